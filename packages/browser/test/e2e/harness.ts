import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { memoryStore, type Activity, type Store } from '@usertracking/core'
import { createActivityHandler } from '@usertracking/server'
import { build } from 'esbuild'

/** Where Debian's (or the CI's) Chromium is, or undefined. `CHROMIUM_PATH` wins. */
export function findChromium(): string | undefined {
  const named = process.env.CHROMIUM_PATH
  if (named) return existsSync(named) ? named : undefined
  for (const command of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      const path = execFileSync('which', [command], { encoding: 'utf8' }).trim()
      if (path) return path
    } catch {
      // not installed under this name
    }
  }
  return undefined
}

/** The flags a root container without a GPU or a display needs. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']

/** A script-tag build (`script.ts` or `lite-script.ts`), bundled from source so the test never runs a stale `dist`. */
export async function buildScript(entry = 'script.ts'): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL(`../../src/${entry}`, import.meta.url))],
    bundle: true,
    format: 'iife',
    conditions: ['@usertracking/source'],
    write: false,
    target: 'es2020',
  })
  return result.outputFiles[0]!.text
}

/** One request the ingest received. */
export interface Receipt {
  activities: Activity[]
  /** The status it was answered with. */
  status: number
  bytes: number
  contentType: string | undefined
  /** `no-cors` for a beacon with a text/plain body, `cors` for fetch. */
  fetchMode: string | undefined
}

/** How the ingest answers while a test rehearses an outage. */
export interface Outage {
  /** The status every ingest request gets, e.g. 503. */
  status: number
  /** How long each request is held open before that answer, in milliseconds. @default 0 */
  delayMs?: number
}

/**
 * A loopback web server: the test pages, the script, and the server package's real ingest handler
 * at `POST /api/activity` over core's `memoryStore`, which, like every store of this SDK, keeps an
 * activity once however many times it arrives.
 */
export interface TestSite {
  url: string
  /** Every ingest request, duplicates and refused ones included, in arrival order. */
  receipts: Receipt[]
  /** Ingest requests that arrived and have not been answered yet. */
  open: number
  /** Set to refuse ingest requests (before the handler sees them); `undefined` heals the route. */
  outage: Outage | undefined
  /** Every activity in the store, oldest first. */
  stored(): Promise<Activity[]>
  /** Empties the store and the receipts, and heals the route. */
  reset(): void
  close(): Promise<void>
}

/** A request's whole body, as UTF-8 text. */
export function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

/**
 * The test page. The script tag sits in `<head>`, configured by its `data-*` attributes; `attributes`
 * (names without `data-`) adds or overrides some; `script` names the file served for the tag.
 */
export function page(title: string, attributes: Record<string, string> = {}, script = '/usertracking.js'): string {
  const data = { debug: 'true', endpoint: '/api/activity', 'debounce-time': '50', 'flush-interval': '200', 'track-input-focus': 'true', ...attributes }
  const tag = Object.entries(data)
    .map(([name, value]) => `data-${name}="${value}"`)
    .join(' ')
  return `<!doctype html>
<html><head><title>${title}</title>
<script src="${script}" ${tag}></script>
</head><body>
<button id="buy">  Buy
   now </button>
<a id="pricing" href="/pricing">Pricing</a>
<a id="cached" href="/cached">Cached</a>
<form id="signup" action="/signup"><input id="email" name="email" type="email" required><input id="pw" name="pw" type="password"><button id="send" type="submit">Sign up</button></form>
<div data-usertracking-ignore><button id="private">Private</button></div>
<script>
  document.getElementById('pricing').addEventListener('click', (event) => {
    event.preventDefault()
    history.pushState(null, '', '/pricing')
    document.title = 'Pricing'
  })
  document.getElementById('signup').addEventListener('submit', (event) => {
    event.preventDefault()
    UserTracking.track('form_submit_success', 'signup')
  })
</script>
</body></html>`
}

/**
 * Starts the site on 127.0.0.1. `pages` maps a path to its HTML; pages under `/cached` may be
 * served from the browser's HTTP cache for an hour (so they open while offline), the rest never.
 * `scripts` maps a script path to its code.
 */
export async function startSite(scripts: Record<string, string>, pages: Record<string, string>): Promise<TestSite> {
  let store: Store = memoryStore()
  let handler = createActivityHandler({ store })
  const site = { receipts: [], open: 0, outage: undefined } as unknown as TestSite
  const server: Server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    if (request.method === 'POST' && url.pathname === '/api/activity') {
      site.open++
      const body = await readBody(request)
      const outage = site.outage
      if (outage?.delayMs) await new Promise((resolve) => setTimeout(resolve, outage.delayMs))
      const answer = outage
        ? new Response('{}', { status: outage.status, headers: { 'content-type': 'application/json' } })
        : await handler(new Request(url, { method: 'POST', headers: request.headers as Record<string, string>, body }))
      let activities: Activity[] = []
      try {
        activities = (JSON.parse(body) as { activities: Activity[] }).activities
      } catch {
        // Recorded as an empty request; the handler answered it with 400.
      }
      site.receipts.push({
        activities,
        status: answer.status,
        bytes: Buffer.byteLength(body),
        contentType: request.headers['content-type'],
        fetchMode: request.headers['sec-fetch-mode'] as string | undefined,
      })
      site.open--
      response.writeHead(answer.status, Object.fromEntries(answer.headers)).end(await answer.text())
      return
    }
    const script = scripts[url.pathname]
    if (script !== undefined) {
      response.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'max-age=3600' }).end(script)
      return
    }
    const html = pages[url.pathname]
    if (html === undefined) {
      response.writeHead(404).end()
      return
    }
    const cache = url.pathname.startsWith('/cached') ? 'max-age=3600' : 'no-store'
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': cache }).end(html)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  site.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  site.stored = async () => {
    const all: Activity[] = []
    for await (const activity of store.export({ order: 'asc' })) all.push(activity)
    return all
  }
  site.reset = () => {
    handler.close()
    store = memoryStore()
    handler = createActivityHandler({ store })
    site.receipts.length = 0
    site.outage = undefined
  }
  site.close = () =>
    new Promise((resolve) => {
      handler.close()
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return site
}

/** Polls `check` until it returns true, failing with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
