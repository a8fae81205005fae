import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { Activity } from '@usertracking/core'
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

/** The script-tag build, bundled from source so the test never runs a stale `dist`. */
export async function buildScript(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../../src/script.ts', import.meta.url))],
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
  bytes: number
  contentType: string | undefined
  /** `no-cors` for a beacon with a text/plain body, `cors` for fetch. */
  fetchMode: string | undefined
}

/** A loopback web server: the test page, the script, and an ingest endpoint that records every request. */
export interface TestSite {
  url: string
  /** Every ingest request, duplicates included. */
  receipts: Receipt[]
  /** Every activity received, duplicates included, in arrival order. */
  received(): Activity[]
  /** The status the ingest answers with (200 unless a test is rehearsing an outage). */
  status: number
  close(): Promise<void>
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

/**
 * The test page. The script tag sits in `<head>`, configured by its `data-*` attributes; `attributes`
 * (names without `data-`) adds or overrides some.
 */
export function page(title: string, attributes: Record<string, string> = {}): string {
  const data = { debug: 'true', endpoint: '/ingest', 'debounce-time': '50', 'flush-interval': '200', 'track-input-focus': 'true', ...attributes }
  const tag = Object.entries(data)
    .map(([name, value]) => `data-${name}="${value}"`)
    .join(' ')
  return `<!doctype html>
<html><head><title>${title}</title>
<script src="/usertracking.js" ${tag}></script>
</head><body>
<button id="buy">  Buy
   now </button>
<a id="pricing" href="/pricing">Pricing</a>
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

/** Starts the site on 127.0.0.1; `pages` maps a path to its HTML. */
export async function startSite(script: string, pages: Record<string, string>): Promise<TestSite> {
  const receipts: Receipt[] = []
  const site = { receipts, status: 200 } as TestSite
  const server: Server = createServer(async (request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname
    if (request.method === 'POST' && path === '/ingest') {
      const body = await readBody(request)
      if (site.status === 200) {
        const parsed = JSON.parse(body) as { activities: Activity[] }
        receipts.push({
          activities: parsed.activities,
          bytes: Buffer.byteLength(body),
          contentType: request.headers['content-type'],
          fetchMode: request.headers['sec-fetch-mode'] as string | undefined,
        })
      }
      response.writeHead(site.status, { 'content-type': 'application/json' }).end('{}')
      return
    }
    if (path === '/usertracking.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(script)
      return
    }
    const html = pages[path]
    if (html === undefined) {
      response.writeHead(404).end()
      return
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  site.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  site.received = () => receipts.flatMap((receipt) => receipt.activities)
  site.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return site
}

/** Polls `check` until it returns true, failing with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** How many times each id arrived. */
export function countById(activities: Activity[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const activity of activities) counts.set(activity.id, (counts.get(activity.id) ?? 0) + 1)
  return counts
}
