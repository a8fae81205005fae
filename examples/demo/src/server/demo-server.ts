import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createTracker } from '@usertracking/core'
import { createNodeTracker } from '@usertracking/node'
import { createPricing } from '@usertracking/pricing'
import { createActivityHandler, toNodeListener } from '@usertracking/server'
import OpenAI from 'openai'
import sirv from 'sirv'
import { ensureAppBuilt } from './app-build'
import { openDatabase, type Database } from './database'
import { openDataFolder, type DataFolder } from './data-folder'
import { FAKE_MODEL_ID, startFakeModel, type FakeModel, type FakeModelOptions } from './fake-model'
import { json } from './json'
import { seedActivities } from './seed'
import { createSessions } from './session'
import { createTailor, createTailorRoute } from './tailor'

/** Options of {@link startDemo}; every default is what `pnpm start` uses. */
export interface DemoOptions {
  /** Port on 127.0.0.1; `0` takes any free one. @default 3000 */
  port?: number
  /** Folder kept between runs: the database, pending activities, the sign-in key. @default examples/demo/.data */
  dataDir?: string
  /** Empty the data folder first, so the database is seeded again. @default false */
  reset?: boolean
  /** Build the app even if the last build matches the sources. @default false */
  rebuild?: boolean
  /** Where the built app goes. @default examples/demo/dist */
  buildDir?: string
  /** Timing of the fake model. @default 700 ms to the first word, then a word every 30 ms */
  model?: FakeModelOptions
  /** Progress lines while starting. @default console.log */
  log?: (line: string) => void
}

/** A running demo. */
export interface Demo {
  /** `http://127.0.0.1:<port>` */
  url: string
  /** The fake model's base URL. */
  modelUrl: string
  dataDir: string
  /** Activities written by the first-start seed: 0 when the database already had some. */
  seeded: number
  /** Activities in the database after start. */
  total: number
  /** Stops taking requests, ends live streams, flushes the tracker, closes the model and the database. Safe to call twice. */
  close(): Promise<void>
}

export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../.data', import.meta.url))
/** The pages of the app: each serves `index.html`, and the app shows the one its path names. */
const APP_PATHS = new Set(['/', '/activities', '/admin'])
// The app loads only its own files and talks only to its own origin.
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
}

async function seedIfEmpty(database: Database, log: (line: string) => void): Promise<number> {
  const { items } = await database.store.list({ limit: 1 })
  if (items.length > 0) return 0
  const activities = seedActivities({ now: Date.now() })
  const pricing = createPricing()
  // The seed goes in the way every activity does: normalised, priced, batched into the store.
  const tracker = createTracker({ sinks: [database.store.sink], beforeSend: pricing.enrich, batchSize: 500 })
  for (const activity of activities) tracker.track(activity)
  await tracker.shutdown()
  const { sent, dropped } = tracker.stats()
  if (dropped > 0) throw new Error(`[demo] The seed lost ${dropped} of ${activities.length} activities; see the tracker's debug output.`)
  log(`Seeded ${sent} activities (two weeks of four users and six anonymous visitors).`)
  return sent
}

function listen(server: ReturnType<typeof createServer>, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`[demo] Port ${port} on 127.0.0.1 is taken. Stop what uses it, or start on another: PORT=3001 pnpm start (or --port 0 for any free port).`)
          : error,
      )
    })
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })
}

/**
 * The product tour in one process on 127.0.0.1: the server handler of `@usertracking/server` over
 * `postgresStore` on PGlite (seeded on first start), authenticated by a demo sign-in cookie; a
 * fake OpenAI-compatible model behind a `withActivity`-wrapped server function; and the Vite-built
 * React app (built on start when its sources changed) with the script-tag tracker on every page.
 */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const log = options.log ?? console.log
  const cleanup: (() => Promise<void>)[] = []
  const closeAll = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch((error: unknown) => console.error('[demo] while closing:', error))
  }
  try {
    const folder: DataFolder = await openDataFolder(options.dataDir ?? DEFAULT_DATA_DIR, { reset: options.reset })
    cleanup.push(folder.release)
    const app = await ensureAppBuilt({ dir: options.buildDir, force: options.rebuild })
    if (app.built) log(`Built the app in ${(app.durationMs / 1000).toFixed(1)} s.`)
    const database = await openDatabase(folder.databaseDir)
    cleanup.push(database.close)
    const seeded = await seedIfEmpty(database, log)

    const model: FakeModel = await startFakeModel(options.model)
    cleanup.push(model.close)
    const pricing = createPricing()
    const onError = (error: unknown) => console.error('[demo]', error)
    // The server's own activities (the tailoring) go straight into the store, journalled on disk
    // until stored, priced on the way; Ctrl-C flushes it (main.ts), so no shutdown hooks here.
    const tracker = createNodeTracker({ sinks: [database.store.sink], dir: folder.journalDir, beforeSend: pricing.enrich, shutdownHooks: false, onError })
    cleanup.push(async () => {
      await tracker.shutdown()
    })
    const sessions = createSessions(folder.secret)
    const handler = createActivityHandler({ store: database.store, authenticate: sessions.authenticate, onError })
    cleanup.push(async () => handler.close())
    const openai = new OpenAI({ apiKey: 'demo-key-for-the-fake-model', baseURL: model.url, timeout: 30_000, maxRetries: 1 })
    const tailorRoute = createTailorRoute({ tailor: createTailor(tracker, openai, FAKE_MODEL_ID), pricing, userOf: sessions.userOf, onError })
    const demoRoutes = toNodeListener(async (request) => {
      const path = new URL(request.url).pathname
      if (path === '/demo/session') return sessions.route(request)
      if (path === '/demo/tailor') return tailorRoute(request)
      return json(404, { error: `No route ${path}.` })
    })
    const api = toNodeListener(handler)
    const assets = sirv(app.dir, { etag: true, gzip: false, brotli: false })
    const page = await readFile(`${app.dir}/index.html`)

    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname
      if (path.startsWith('/api/') || path === '/metrics') return api(request, response)
      if (path.startsWith('/demo/')) return demoRoutes(request, response)
      if (APP_PATHS.has(path) && (request.method === 'GET' || request.method === 'HEAD')) {
        // A fresh browser is signed in as the first demo user, so every page has a history to show.
        const cookie = sessions.defaultCookie(request.headers.cookie)
        response.writeHead(200, cookie ? { ...PAGE_HEADERS, 'set-cookie': cookie } : PAGE_HEADERS).end(request.method === 'HEAD' ? undefined : page)
        return
      }
      assets(request, response, () => {
        response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found')
      })
    })
    server.on('clientError', (_error, socket) => socket.destroy())
    const port = await listen(server, options.port ?? 3000)
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        }),
    )
    const { total } = await database.store.stats({})
    return { url: `http://127.0.0.1:${port}`, modelUrl: model.url, dataDir: folder.dir, seeded, total, close: closeAll }
  } catch (error) {
    await closeAll()
    throw error
  }
}
