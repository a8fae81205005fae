import {
  parseActivity,
  type Activity,
  type ActivityFilter,
  type NormalizeOptions,
  type Store,
} from '@usertracking/core'
import { readJsonBody } from './body'
import { anonymizeIp, clientIp, type TrustProxy } from './client-ip'
import { csvHeader, csvRow } from './csv'
import { eventStream } from './event-stream'
import { LiveFeed, type LiveFeedOptions } from './live-feed'
import { HandlerMetrics } from './metrics'
import { parseExportQuery, parseListQuery, parseStatsQuery, parseStreamQuery, type QueryIssue } from './query'

/** Who is making a request, as `authenticate` says. */
export interface Principal {
  /** The signed-in user; a non-admin reads only this user's activities and writes only as this user. */
  userId: string
  /** Reads every user's activities and writes on anyone's behalf. @default false */
  admin?: boolean
}

/** Cross-origin access for browsers on other origins (a script tag on a customer's site). */
export interface CorsOptions {
  /** Origins allowed: one, a list, or a predicate. @default '*' */
  origin?: string | string[] | ((origin: string) => boolean)
  /** Allow cookies and `Authorization` across origins (requires an origin other than `*`). @default false */
  credentials?: boolean
  /** How long browsers may cache a preflight answer, in seconds. @default 600 */
  maxAgeSeconds?: number
}

/** Options of {@link createActivityHandler}. */
export interface ActivityHandlerOptions {
  /** Where activities are written and read. */
  store: Store
  /** Prefix of every route but `/metrics`. @default '/api' */
  basePath?: string
  /**
   * Says who sent a request: a {@link Principal}, `null` for nobody, or a `Response` to answer
   * with as is (a 401 with `WWW-Authenticate`, a 403). Without it, every request is treated as an
   * admin's: fine for local development, never for a deployment.
   */
  authenticate?: (request: Request) => Principal | Response | null | undefined | Promise<Principal | Response | null | undefined>
  /**
   * Accept activities from requests `authenticate` answers `null` for: anonymous visitors on a
   * website. Their activities are stored as sent. Reads always need a principal.
   * @default true
   */
  allowAnonymousIngest?: boolean
  /** Largest request body, in bytes; larger ones get 413 without being read. @default 1048576 (1 MB) */
  maxBodyBytes?: number
  /** Most activities in one request; more get 413, which the core `httpSink` answers by halving its batch. @default 1000 */
  maxBatchSize?: number
  /**
   * Take the client IP from `X-Forwarded-For`: `true` trusts every proxy (the left-most address),
   * a number trusts that many proxies in front of this server. Only set it behind proxies that
   * overwrite or append the header, or clients can claim any address.
   * @default false
   */
  trustProxy?: TrustProxy
  /** Store IPs truncated to their /24 (IPv4) or /48 (IPv6) network, as GDPR guidance suggests. @default false */
  anonymizeIp?: boolean
  /** CORS headers and preflight answers; `true` allows any origin. @default false */
  cors?: boolean | CorsOptions
  /** Path of the Prometheus metrics route, outside `basePath`; `false` turns the route off. @default '/metrics' */
  metricsPath?: string | false
  /** The live stream's backlog, polling and heartbeat. */
  live?: LiveFeedOptions & {
    /** Comment lines sent this often keep proxies from closing a quiet stream, in ms. @default 15000 */
    heartbeatMs?: number
  }
  /** Default window of the `recent` counts in stats, in ms. @default 86400000 (24 hours) */
  recentWindowMs?: number
  /** Limits applied to each activity as it is normalised. */
  normalize?: NormalizeOptions
  /** Store failures and unexpected errors; the client gets a 503 or 500 without details. @default console.error */
  onError?: (error: unknown) => void
  /** The clock, in Unix milliseconds. @default Date.now */
  now?: () => number
}

/** What a runtime knows about a request beyond the `Request` itself. */
export interface HandlerContext {
  /** The peer's IP address (`socket.remoteAddress` on Node). */
  remoteAddress?: string
}

/** A web-standard request handler serving the activity routes. */
export interface ActivityHandler {
  /** Answers one request; never rejects. */
  (request: Request, context?: HandlerContext): Promise<Response>
  /** Ends open live streams and stops watching the store. */
  close(): void
}

interface Issue {
  path: (string | number)[]
  message: string
}

/** An answer other than success; `message` reads as a sentence and is prefixed with the package. */
class HttpError {
  readonly message: string
  constructor(
    readonly status: number,
    message: string,
    readonly issues?: Issue[],
    readonly headers?: Record<string, string>,
  ) {
    this.message = `[usertracking] [server] ${message}`
  }
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }

function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } })
}

function queryError(issues: QueryIssue[]): HttpError {
  return new HttpError(400, 'The query parameters are invalid; each issue names its parameter.', issues)
}

/** A monotonic clock where the runtime has one (every target does; the fallback is for odd hosts). */
function elapsedMs(): number {
  return typeof performance === 'undefined' ? Date.now() : performance.now()
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function retryAfterSeconds(retryInMs: number | undefined): string {
  return String(Math.max(1, Math.ceil((retryInMs ?? 1000) / 1000)))
}

type Route = 'ingest' | 'event' | 'list' | 'stats' | 'export' | 'stream' | 'metrics'

/**
 * The activity backend as one web-standard handler: it mounts as is in Next.js route handlers,
 * Hono, Bun and Deno, and on node:http or Express through {@link toNodeListener}.
 *
 * Routes, under `basePath`:
 * - `POST /activity` (200) and `POST /event` (201): one activity, an array, or `{ activities }`;
 *   answers `{ accepted, ids }`.
 * - `GET /activities` (alias `/events`): the store's `list`, filters and paging as query parameters.
 * - `GET /activities/stats`: aggregates, `interval=4h` buckets (`per=user|activityType`), `recent` counts.
 * - `GET /activities/export?format=csv|json|ndjson`: every matching activity, streamed.
 * - `GET /activities/stream`: Server-Sent Events of new activities, resumable with `Last-Event-ID`.
 * - `GET /metrics` (outside `basePath`): Prometheus text format.
 *
 * @param options - the store, authentication and limits; see {@link ActivityHandlerOptions}.
 */
export function createActivityHandler(options: ActivityHandlerOptions): ActivityHandler {
  const { store } = options
  const basePath = (options.basePath ?? '/api').replace(/\/+$/, '')
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024
  const maxBatchSize = options.maxBatchSize ?? 1000
  const trustProxy = options.trustProxy ?? false
  const metricsPath = options.metricsPath === undefined ? '/metrics' : options.metricsPath
  const recentWindowMs = options.recentWindowMs ?? 86_400_000
  const heartbeatMs = options.live?.heartbeatMs ?? 15_000
  const now = options.now ?? Date.now
  const onError =
    options.onError ??
    ((error: unknown) => {
      console.error(`[usertracking] [server] ${error instanceof Error ? error.message : String(error)}`, error)
    })
  const cors = options.cors === true ? {} : options.cors || undefined
  const metrics = new HandlerMetrics()
  const feed = new LiveFeed(store, options.live ?? {}, onError)
  const streams = new Set<AbortController>()

  const routes = new Map<string, { route: Route; method: 'GET' | 'POST' }>([
    [`${basePath}/activity`, { route: 'ingest', method: 'POST' }],
    [`${basePath}/event`, { route: 'event', method: 'POST' }],
    [`${basePath}/activities`, { route: 'list', method: 'GET' }],
    [`${basePath}/events`, { route: 'list', method: 'GET' }],
    [`${basePath}/activities/stats`, { route: 'stats', method: 'GET' }],
    [`${basePath}/activities/export`, { route: 'export', method: 'GET' }],
    [`${basePath}/activities/stream`, { route: 'stream', method: 'GET' }],
  ])
  if (metricsPath !== false) routes.set(metricsPath, { route: 'metrics', method: 'GET' })

  async function principalOf(request: Request): Promise<Principal | null> {
    if (!options.authenticate) return { userId: '', admin: true }
    const answer = await options.authenticate(request)
    if (answer instanceof Response) throw answer
    return answer ?? null
  }

  async function reader(request: Request): Promise<Principal> {
    const principal = await principalOf(request)
    if (!principal) throw new HttpError(401, 'Sign in to read activities.')
    return principal
  }

  /** A non-admin reads their own rows, whatever `userId` the query names. */
  function scope<T extends ActivityFilter>(query: T, principal: Principal): T {
    return principal.admin ? query : { ...query, userId: principal.userId }
  }

  async function ingest(request: Request, context: HandlerContext | undefined, status: 200 | 201): Promise<Response> {
    const started = now()
    const startedMark = elapsedMs()
    const principal = await principalOf(request)
    if (!principal && options.allowAnonymousIngest === false) throw new HttpError(401, 'Sign in to send activities.')
    const body = await readJsonBody(request, maxBodyBytes)
    if (!body.ok) throw new HttpError(body.status, body.message)
    const value = body.value
    let inputs: unknown[]
    let prefix: (index: number) => (string | number)[]
    if (Array.isArray(value)) {
      inputs = value
      prefix = (index) => [index]
    } else if (isObject(value) && Array.isArray(value.activities)) {
      inputs = value.activities
      prefix = (index) => ['activities', index]
    } else {
      inputs = [value]
      prefix = () => []
    }
    if (inputs.length === 0) throw new HttpError(400, 'The request holds no activities.')
    if (inputs.length > maxBatchSize) {
      throw new HttpError(413, `At most ${maxBatchSize} activities fit in one request.`)
    }
    const activities: Activity[] = []
    const issues: Issue[] = []
    inputs.forEach((input, index) => {
      const parsed = parseActivity(input, options.normalize)
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          issues.push({ path: [...prefix(index), ...(issue.path as (string | number)[])], message: issue.message })
        }
      } else activities.push(parsed.data)
    })
    if (issues.length > 0) {
      metrics.rejected('invalid', inputs.length)
      throw new HttpError(400, 'The activity data is invalid; each issue names its field.', issues)
    }
    const receivedAt = new Date(started).toISOString()
    const rawIp = clientIp(request.headers, context?.remoteAddress, trustProxy)
    const ip = rawIp && options.anonymizeIp ? anonymizeIp(rawIp) : rawIp
    const userAgent = request.headers.get('user-agent') ?? undefined
    for (const activity of activities) {
      if (principal && !principal.admin) {
        if (activity.userId === undefined) activity.userId = principal.userId
        else if (activity.userId !== principal.userId) {
          metrics.rejected('forbidden', activities.length)
          throw new HttpError(403, 'You can only send activities as yourself.')
        }
      }
      activity.receivedAt = receivedAt
      // The IP is the server's to say: a client's claim is dropped even when the server has none.
      if (activity.context) delete activity.context.ip
      if (ip !== undefined) (activity.context ??= {}).ip = ip
      if (userAgent !== undefined) (activity.context ??= {}).userAgent ??= userAgent
    }
    let result
    try {
      result = await store.sink.write(activities, { signal: request.signal })
    } catch (error) {
      onError(error)
      throw new HttpError(503, `The ${store.name} store is unavailable; try again.`, undefined, { 'retry-after': '1' })
    }
    if (result.type === 'retryable') {
      if (result.error !== undefined) onError(result.error)
      throw new HttpError(503, `The ${store.name} store is unavailable; try again.`, undefined, {
        'retry-after': retryAfterSeconds(result.retryInMs),
      })
    }
    if (result.type === 'too_large') throw new HttpError(413, `The ${store.name} store refused a batch this large.`)
    if (result.type === 'failure') {
      onError(result.error)
      metrics.rejected('store_failure', activities.length)
      throw new HttpError(422, `The ${store.name} store refused these activities.`)
    }
    const refused = new Set((result.rejected ?? []).map((entry) => entry.id))
    const stored = refused.size === 0 ? activities : activities.filter((activity) => !refused.has(activity.id))
    if (refused.size > 0) metrics.rejected('store_rejected', refused.size)
    feed.publish(stored)
    metrics.ingest(stored.length, (elapsedMs() - startedMark) / 1000)
    const answer: { accepted: number; ids: string[]; rejected?: { id: string; error: string }[] } = {
      accepted: stored.length,
      ids: stored.map((activity) => activity.id),
    }
    if (result.rejected?.length) answer.rejected = result.rejected
    return json(status, answer)
  }

  async function list(request: Request, url: URL): Promise<Response> {
    const principal = await reader(request)
    const parsed = parseListQuery(url.searchParams)
    if (!parsed.ok) throw queryError(parsed.issues)
    try {
      return json(200, await store.list(scope(parsed.query, principal)))
    } catch (error) {
      // The Store contract refuses a cursor it did not issue with a RangeError.
      if (error instanceof RangeError) throw new HttpError(400, 'The query parameters are invalid; each issue names its parameter.', [{ path: ['query', 'cursor'], message: error.message }])
      throw storeError(error)
    }
  }

  function storeError(error: unknown): HttpError {
    onError(error)
    return new HttpError(503, `The ${store.name} store is unavailable; try again.`, undefined, { 'retry-after': '1' })
  }

  async function stats(request: Request, url: URL): Promise<Response> {
    const principal = await reader(request)
    const parsed = parseStatsQuery(url.searchParams, recentWindowMs)
    if (!parsed.ok) throw queryError(parsed.issues)
    const query = scope(parsed.query.stats, principal)
    const recentFrom = new Date(now() - parsed.query.recentMs)
    const from = query.from !== undefined && Date.parse(String(query.from)) > recentFrom.getTime() ? query.from : recentFrom.toISOString()
    const { groupBy: _groupBy, ...filter } = query
    try {
      const [all, recent] = await Promise.all([store.stats(query), store.stats({ ...filter, from })])
      return json(200, { ...all, recent: { from, total: recent.total, uniqueUsers: recent.uniqueUsers, byType: recent.byType } })
    } catch (error) {
      throw storeError(error)
    }
  }

  async function exportRows(request: Request, url: URL): Promise<Response> {
    const principal = await reader(request)
    const parsed = parseExportQuery(url.searchParams)
    if (!parsed.ok) throw queryError(parsed.issues)
    const { format } = parsed.query
    const iterator = store.export(scope(parsed.query.export, principal))[Symbol.asyncIterator]()
    let first: IteratorResult<Activity>
    try {
      // Reading the first row before answering turns an unreachable store into a 503, not a cut-off 200.
      first = await iterator.next()
    } catch (error) {
      throw storeError(error)
    }
    const encoder = new TextEncoder()
    const row = format === 'csv' ? csvRow : format === 'ndjson' ? (activity: Activity) => `${JSON.stringify(activity)}\n` : undefined
    let pending: IteratorResult<Activity> | undefined = first
    let started = false
    let count = 0
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        let text = ''
        if (!started) {
          started = true
          text = format === 'csv' ? csvHeader() : format === 'json' ? '[' : ''
        }
        try {
          // Rows go out in chunks of about 64 KB: one enqueue per row would cost more than the row.
          while (text.length < 65_536) {
            const next: IteratorResult<Activity> = pending ?? (await iterator.next())
            pending = undefined
            if (next.done) {
              if (format === 'json') text += count === 0 ? ']\n' : '\n]\n'
              if (text) controller.enqueue(encoder.encode(text))
              controller.close()
              return
            }
            text += row ? row(next.value) : `${count === 0 ? '\n' : ',\n'}${JSON.stringify(next.value)}`
            count++
          }
        } catch (error) {
          onError(error)
          controller.error(error)
          return
        }
        controller.enqueue(encoder.encode(text))
      },
      async cancel() {
        await iterator.return?.()
      },
    })
    const type = format === 'csv' ? 'text/csv; charset=utf-8; header=present' : format === 'ndjson' ? 'application/x-ndjson' : 'application/json; charset=utf-8'
    return new Response(body, {
      headers: {
        'content-type': type,
        'content-disposition': `attachment; filename="activities.${format === 'ndjson' ? 'ndjson' : format}"`,
        'cache-control': 'no-store',
      },
    })
  }

  async function stream(request: Request, url: URL): Promise<Response> {
    const principal = await reader(request)
    const parsed = parseStreamQuery(url.searchParams)
    if (!parsed.ok) throw queryError(parsed.issues)
    const controller = new AbortController()
    const abort = () => controller.abort()
    request.signal.addEventListener('abort', abort)
    streams.add(controller)
    const lastEventId = request.headers.get('last-event-id') ?? url.searchParams.get('lastEventId') ?? undefined
    const body = eventStream({
      feed,
      filter: scope(parsed.query, principal),
      lastEventId: lastEventId || undefined,
      signal: controller.signal,
      heartbeatMs,
      maxQueuedEvents: 10_000,
      onOpen: () => metrics.streamOpened(1),
      onClose: () => {
        streams.delete(controller)
        request.signal.removeEventListener('abort', abort)
        metrics.streamOpened(-1)
      },
    })
    return new Response(body, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // nginx buffers proxied responses unless told otherwise, which would hold events back.
        'x-accel-buffering': 'no',
      },
    })
  }

  function allowedOrigin(request: Request): string | undefined {
    if (!cors) return undefined
    const origin = request.headers.get('origin')
    const allowed = cors.origin ?? '*'
    if (allowed === '*') return cors.credentials && origin ? origin : '*'
    if (!origin) return undefined
    if (typeof allowed === 'string') return allowed === origin ? origin : undefined
    if (Array.isArray(allowed)) return allowed.includes(origin) ? origin : undefined
    return allowed(origin) ? origin : undefined
  }

  function withCors(request: Request, response: Response): Response {
    const origin = allowedOrigin(request)
    if (!origin) return response
    response.headers.set('access-control-allow-origin', origin)
    response.headers.append('vary', 'Origin')
    response.headers.set('access-control-expose-headers', 'Retry-After')
    if (cors?.credentials) response.headers.set('access-control-allow-credentials', 'true')
    return response
  }

  async function dispatch(request: Request, context: HandlerContext | undefined): Promise<{ response: Response; route: string }> {
    let url: URL
    try {
      url = new URL(request.url)
    } catch {
      return { response: json(400, { error: 'The request URL is invalid.' }), route: 'unmatched' }
    }
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname
    const match = routes.get(path)
    if (!match) return { response: json(404, { error: `[usertracking] [server] No route ${path}.` }), route: 'unmatched' }
    const route = path
    if (request.method === 'OPTIONS' && cors) {
      const headers: Record<string, string> = {
        'access-control-allow-methods': `${match.method}, OPTIONS`,
        'access-control-allow-headers': request.headers.get('access-control-request-headers') ?? 'content-type, authorization, last-event-id',
        'access-control-max-age': String(cors.maxAgeSeconds ?? 600),
      }
      return { response: new Response(null, { status: 204, headers }), route }
    }
    if (request.method !== match.method) {
      await request.body?.cancel().catch(() => {})
      return { response: json(405, { error: `[usertracking] [server] Use ${match.method} for ${path}.` }, { allow: match.method }), route }
    }
    try {
      switch (match.route) {
        case 'ingest':
          return { response: await ingest(request, context, 200), route }
        case 'event':
          return { response: await ingest(request, context, 201), route }
        case 'list':
          return { response: await list(request, url), route }
        case 'stats':
          return { response: await stats(request, url), route }
        case 'export':
          return { response: await exportRows(request, url), route }
        case 'stream':
          return { response: await stream(request, url), route }
        case 'metrics':
          return {
            response: new Response(metrics.render(), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' } }),
            route,
          }
      }
    } catch (error) {
      if (error instanceof Response) return { response: error, route }
      if (error instanceof HttpError) {
        // A refused body may not have been read; dropping it lets the connection close cleanly.
        await request.body?.cancel().catch(() => {})
        const body: { error: string; issues?: Issue[] } = { error: error.message }
        if (error.issues) body.issues = error.issues
        return { response: json(error.status, body, error.headers), route }
      }
      throw error
    }
  }

  const handler = async (request: Request, context?: HandlerContext): Promise<Response> => {
    let response: Response
    let route = 'unmatched'
    try {
      ;({ response, route } = await dispatch(request, context))
    } catch (error) {
      onError(error)
      response = json(500, { error: 'Something went wrong on the server.' })
    }
    metrics.request(route, request.method, response.status)
    return withCors(request, response)
  }
  return Object.assign(handler, {
    close() {
      for (const controller of streams) controller.abort()
      streams.clear()
      feed.close()
    },
  })
}
