/**
 * A Cloudflare Worker that records who looks at its pages and serves the activity API:
 *
 * - every page view is tracked by one tracker at module scope, which hands its delivery to the
 *   platform's `waitUntil`, so the page answers at once and delivery finishes after it;
 * - `/api/*` is the server package's handler: ingest, list, stats and export, over PostgreSQL
 *   (postgres.js on `cloudflare:sockets`, through Hyperdrive in production) or, without a
 *   database, over a memory store that lives as long as the isolate.
 */
import { waitUntil } from 'cloudflare:workers'
import { createTracker, memoryStore, type Sink, type Store, type Tracker } from '@usertracking/core'
import { postgresStore } from '@usertracking/postgres'
import { bearerToken, createActivityHandler } from '@usertracking/server'
import postgres from 'postgres'

/** The Worker's bindings (wrangler.jsonc, secrets). */
export interface Env {
  /** Bearer token of admin requests (reads, and writes on anyone's behalf); a secret of 16 characters or more. */
  API_TOKEN: string
  /** Hyperdrive in front of PostgreSQL: the production way to reach a database from Workers. */
  HYPERDRIVE?: { connectionString: string }
  /** A direct PostgreSQL URL, when there is no Hyperdrive binding. */
  DATABASE_URL?: string
  /** Schema of the activities table. @default 'public' */
  DATABASE_SCHEMA?: string
}

/** The part of the Workers `ExecutionContext` this Worker uses. */
export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void
}

/** A store, and how to let go of its connection once the work is done. */
interface OpenedStore {
  store: Store
  close(): Promise<void>
}

// Without a database: one memory store per isolate. Fine for a try-out; Cloudflare runs many
// isolates and evicts idle ones, and each has its own.
const memory = memoryStore()

/**
 * On Workers a socket belongs to the request that opened it: another request may not use it
 * ("Cannot perform I/O on behalf of a different request"), so a client is opened for each request
 * (and each delivery), and Hyperdrive pools the real connections.
 */
function openStore(env: Env): OpenedStore {
  const url = env.HYPERDRIVE?.connectionString ?? env.DATABASE_URL
  if (!url) return { store: memory, close: async () => {} }
  // Keep postgres.js's type fetching on (Hyperdrive's guide turns it off): the store's batch
  // insert sends arrays, which postgres.js cannot encode without the types it fetched.
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  return {
    // LISTEN / NOTIFY needs a connection that outlives the request: off here.
    store: postgresStore({ client: sql, schema: env.DATABASE_SCHEMA, notify: false }),
    close: () => sql.end({ timeout: 5 }),
  }
}

/** The store's sink, opened for each write: the write runs in the request whose delivery sends it. */
function storeSink(env: Env): Sink {
  return {
    name: 'store',
    async write(batch, options) {
      const { store, close } = openStore(env)
      try {
        return await store.sink.write(batch, options)
      } finally {
        await close().catch(() => undefined)
      }
    },
  }
}

let tracker: Tracker | undefined

/** The isolate's tracker, made on the first request (bindings arrive with it). */
function trackerFor(env: Env): Tracker {
  tracker ??= createTracker({
    sinks: [storeSink(env)],
    // Each burst of track() calls starts a delivery and hands it to the request it was made in.
    waitUntil,
    // Cloudflare gives waitUntil work 30 s after the response. A batch the database keeps refusing
    // is dropped (and reported, reason `retries_exhausted`) inside that budget rather than cut off
    // unreported: a first attempt, 12 s of retries and a last attempt, 8 + 12 + 8 s.
    writeTimeoutMs: 8_000,
    maxRetryTimeMs: 12_000,
    onDrop: (reason, activities, detail) => console.error(`[tracking] dropped ${activities.length} (${reason})`, detail.error),
  })
  return tracker
}

/** Answers the activity API, and lets go of the store's connection once the answer is sent. */
async function serveApi(request: Request, env: Env, context: ExecutionContext): Promise<Response> {
  const admin = bearerToken(env.API_TOKEN)
  const opened = openStore(env)
  const handler = createActivityHandler({
    store: opened.store,
    // Admin requests carry the API token; the rest are visitors, who may send activities
    // (without a userId) but not read them. A real app verifies its users' sessions here.
    authenticate: (incoming) => (admin(incoming) ? { userId: 'admin', admin: true } : null),
    routes: {
      // A live stream holds a request (and a database connection) open per viewer: not on Workers.
      stream: false,
    },
    // One isolate's counters are not the Worker's: scrape metrics from Workers Analytics instead.
    metrics: false,
  })
  const response = await handler(request)
  const close = () => opened.close().catch((error: unknown) => console.error('[api] closing the database client failed', error))
  if (!response.body) {
    context.waitUntil(close())
    return response
  }
  // An export streams its pages after the handler returns: close once the body has been sent (or
  // the client went away).
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
  context.waitUntil(
    response.body
      .pipeTo(writable)
      .catch(() => undefined)
      .then(close),
  )
  return new Response(readable, response)
}

/** The site itself: one page, whose every view is an activity. */
function page(url: URL): Response {
  if (url.pathname !== '/' && url.pathname !== '/pricing') return new Response('Not found.', { status: 404 })
  return new Response(`<!doctype html><title>Example</title><h1>${url.pathname === '/' ? 'Welcome' : 'Pricing'}</h1>`, {
    headers: { 'content-type': 'text/html; charset=utf-8' },
  })
}

export default {
  async fetch(request: Request, env: Env, context: ExecutionContext): Promise<Response> {
    const url = new URL(request.url)
    if (url.pathname.startsWith('/api/')) return serveApi(request, env, context)
    const response = page(url)
    // track() is synchronous and never throws: the page does not wait for tracking.
    trackerFor(env).track({
      activityType: 'page_view',
      anonymousId: request.headers.get('x-visitor-id') ?? undefined,
      context: { page: url.pathname, host: url.host, userAgent: request.headers.get('user-agent') ?? undefined },
      metadata: { status: response.status },
    })
    return response
  },
}
