import type { NormalizeOptions, Store } from '@usertracking/core'
import { createAccess, type Authenticate } from './auth'
import { discardBody, type BodyLimits } from './body'
import type { TrustProxy } from './client-ip'
import { createCors, type CorsOptions } from './cors'
import { errorResponse, HttpError, jsonResponse } from './errors'
import { createExportRoute } from './export-stream'
import { createIngestRoute } from './ingest'
import { LiveFeed, type LiveFeedOptions } from './live-feed'
import { createLiveStreamRoute } from './live-stream'
import { HandlerMetrics, metricsRoute, type MetricsOptions } from './metrics'
import type { Pagination, QueryOptions, TimeAxis } from './query'
import { createRateLimiter, type RateLimitOptions } from './rate-limit'
import { createReadRoutes, type Presenters } from './reads'
import { buildRouteTable, trimPath, type MatchedRoute, type RouteTable } from './routes'
import { createStoreCaller } from './store-call'

/** Options of {@link createActivityHandler}. Every default is the secure choice; each insecure one is named as such. */
export interface ActivityHandlerOptions {
  /** Where activities are written and read. */
  store: Store
  /** Prefix of every route but the metrics route. @default '/api' */
  basePath?: string
  /**
   * Where each route answers, under `basePath`: `{ ingest: '/track', list: ['/admin/activities'] }`.
   * A route named here answers at these paths only; `false` turns it off; routes left out keep
   * their defaults (see {@link RouteTable}).
   * @default {}
   */
  routes?: RouteTable
  /** Reshape the list and stats answers into the JSON an existing front end expects. @default {} */
  present?: Presenters
  /**
   * Which time the read routes' `from` / `to` filter on, and stats buckets use unless `on` says:
   * `'timestamp'` (when the user acted) or `'receivedAt'` (when the server recorded it, as an
   * event log that searches by arrival does). `receivedFrom` / `receivedTo` always filter on
   * `receivedAt`.
   * @default 'timestamp'
   */
  timeAxis?: TimeAxis
  /**
   * Query parameter names an existing front end sends, mapped to the handler's own:
   * `{ user_id: 'anonymousId' }` makes `?user_id=` filter by anonymous id instead of the built-in
   * `user_id` → `userId`. Issues about a renamed parameter name it as the client sent it.
   * @default {}
   */
  queryAliases?: Record<string, string>
  /**
   * How the list route pages when the query does not say: `'cursor'` answers
   * `{ items, nextCursor }`; `'page'` answers `{ items, total, page, perPage, pages }` (page 1 of
   * 50 unless `page` / `per_page` say otherwise). `page` or `per_page` in a query always select
   * page numbers.
   * @default 'cursor'
   */
  pagination?: Pagination
  /**
   * Says who sent a request: a principal `{ userId, admin? }`, `null` for nobody, or a `Response`
   * to answer with as is. Without it every request is anonymous: ingest still works (without
   * user ids), reads answer 401.
   */
  authenticate?: Authenticate
  /**
   * Accept activities from requests `authenticate` answers `null` for: anonymous visitors on a
   * website, who may send `anonymousId` and `sessionId` but not `userId`.
   * @default true
   */
  allowAnonymousIngest?: boolean
  /**
   * Store the `userId` an anonymous request names. Off, such a request is refused with 403, since
   * anyone could otherwise write into any user's activity log. Turn it on only where no one but
   * trusted clients can reach the ingest routes (a backend on a private network).
   * @default false
   */
  trustClientUserIds?: boolean
  /**
   * Development only: treat every request `authenticate` does not identify as an admin's (read
   * everything, write as anyone) and serve the metrics without a guard. Logs a warning at start.
   * Never set it on a server others can reach.
   * @default false
   */
  insecureDevelopmentMode?: boolean
  /**
   * A token bucket per client IP for anonymous ingest, answering 429 with `Retry-After`. Off by
   * default: behind a proxy, without `trustProxy`, every client shares the proxy's address and one
   * bucket. Memory is bounded by `maxClients`.
   * @default false
   */
  rateLimit?: false | RateLimitOptions
  /** Largest request body, in bytes; larger ones get 413. @default 1048576 (1 MiB) */
  maxBodyBytes?: number
  /**
   * Bytes of a refused body (413, 415, 401 …) read and thrown away before answering, so a client
   * still sending it can read the answer instead of seeing a reset (RFC 9112 §9.6); past this the
   * connection is cut.
   * @default 16777216 (16 MiB: a large batch the core `httpSink` will halve)
   */
  maxDrainBytes?: number
  /** Time allowed to receive a request body, in ms; a slower client gets 408. @default 30000 (a 1 MiB body at 35 KB/s) */
  bodyTimeoutMs?: number
  /**
   * Time limit of one store call, in ms: a stalled store answers 503 with `Retry-After: 5`
   * instead of holding requests open. A write that completes later is kept (the client's retry
   * is absorbed by the id dedupe).
   * @default 10000
   */
  storeTimeoutMs?: number
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
  /** CORS headers and preflight answers; `true` allows any origin without credentials. @default false */
  cors?: boolean | CorsOptions
  /** The Prometheus route, its guard and metric names; `false` turns the route off. @default {} (at `/metrics`, answering 401 until `metrics.authenticate` is set) */
  metrics?: false | MetricsOptions
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

function positiveOption(options: ActivityHandlerOptions, name: 'maxBodyBytes' | 'maxDrainBytes' | 'bodyTimeoutMs' | 'storeTimeoutMs' | 'maxBatchSize' | 'recentWindowMs', fallback: number): number {
  const value = options[name]
  if (value === undefined) return fallback
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
    throw new TypeError(`[usertracking] [server] options.${name} must be a positive number; got ${String(value)}.`)
  }
  return value
}

function queryOptions(options: ActivityHandlerOptions): QueryOptions {
  const timeAxis = options.timeAxis ?? 'timestamp'
  if (timeAxis !== 'timestamp' && timeAxis !== 'receivedAt') {
    throw new TypeError(`[usertracking] [server] options.timeAxis must be 'timestamp' or 'receivedAt'; got ${JSON.stringify(timeAxis)}.`)
  }
  const aliases = options.queryAliases ?? {}
  for (const [name, target] of Object.entries(aliases)) {
    if (typeof target !== 'string' || !/^\w+$/.test(target)) {
      throw new TypeError(`[usertracking] [server] options.queryAliases.${name} must name a query parameter of the handler (such as 'anonymousId').`)
    }
  }
  return { timeAxis, aliases }
}

/**
 * The activity backend as one web-standard handler: it mounts as is in Next.js route handlers,
 * Hono, Bun and Deno, and on node:http or Express through {@link toNodeListener}.
 *
 * Routes, under `basePath` (each movable with `routes`):
 * - `POST /activity` (200) and `POST /event` (201): one activity, an array, or `{ activities }`;
 *   answers `{ accepted, ids }`.
 * - `GET /activities` (alias `/events`): the store's `list`, filters and paging (cursor or page
 *   numbers) as query parameters.
 * - `GET /activities/stats`: aggregates, buckets by `interval=4h` and / or
 *   `per=user|visitor|activityType|page|host`, `recent` counts.
 * - `GET /activities/export?format=csv|json|ndjson`: every matching activity, streamed.
 * - `GET /activities/stream`: Server-Sent Events of new activities, resumable with `Last-Event-ID`.
 * - `GET /metrics` (outside `basePath`): Prometheus text format, behind `metrics.authenticate`.
 *
 * @param options - the store, authentication and limits; see {@link ActivityHandlerOptions}.
 * @throws TypeError naming the option when an option is invalid (an unsafe CORS setup, a route
 * path used twice, a metric prefix Prometheus cannot read, a limit that is not positive).
 */
export function createActivityHandler(options: ActivityHandlerOptions): ActivityHandler {
  const { store } = options
  const now = options.now ?? Date.now
  const onError =
    options.onError ??
    ((error: unknown) => {
      console.error(`[usertracking] [server] ${error instanceof Error ? error.message : String(error)}`, error)
    })
  const development = options.insecureDevelopmentMode === true
  if (development) {
    console.warn('[usertracking] [server] insecureDevelopmentMode is on: anyone can read every activity, write as any user and read the metrics. Never deploy it.')
  }
  const body: BodyLimits = {
    maxBytes: positiveOption(options, 'maxBodyBytes', 1024 * 1024),
    maxDrainBytes: positiveOption(options, 'maxDrainBytes', 16 * 1024 * 1024),
    timeoutMs: positiveOption(options, 'bodyTimeoutMs', 30_000),
  }
  const metricsOptions = options.metrics === false ? undefined : (options.metrics ?? {})
  const routes = buildRouteTable(trimPath(options.basePath ?? '/api').replace(/^\/$/, ''), options.routes ?? {}, metricsOptions ? (metricsOptions.path ?? '/metrics') : undefined)
  const cors = createCors(options.cors)
  const metrics = new HandlerMetrics(metricsOptions)
  const access = createAccess(options)
  const storeCaller = createStoreCaller(store.name, positiveOption(options, 'storeTimeoutMs', 10_000), onError)
  const query = queryOptions(options)
  const feed = new LiveFeed(store, options.live ?? {}, storeCaller, onError)
  const ingest = createIngestRoute({
    store,
    access,
    body,
    maxBatchSize: positiveOption(options, 'maxBatchSize', 1000),
    normalize: options.normalize,
    trustProxy: options.trustProxy ?? false,
    anonymizeIp: options.anonymizeIp === true,
    rateLimiter: options.rateLimit ? createRateLimiter(options.rateLimit, now) : undefined,
    metrics,
    feed,
    storeCaller,
    onError,
    now,
  })
  const reads = createReadRoutes({
    store,
    access,
    storeCaller,
    present: options.present ?? {},
    query,
    pagination: options.pagination ?? 'cursor',
    recentWindowMs: positiveOption(options, 'recentWindowMs', 86_400_000),
    now,
  })
  const exportRoute = createExportRoute({ store, access, storeCaller, query, onError })
  const live = createLiveStreamRoute({ access, feed, metrics, query, heartbeatMs: options.live?.heartbeatMs ?? 15_000 })

  function serve(match: MatchedRoute, request: Request, url: URL, context: HandlerContext | undefined): Promise<Response> {
    switch (match.name) {
      case 'ingest':
        return ingest(request, context?.remoteAddress, 200)
      case 'event':
        return ingest(request, context?.remoteAddress, 201)
      case 'list':
        return reads.list(request, url, match.path)
      case 'stats':
        return reads.stats(request, url, match.path)
      case 'export':
        return exportRoute(request, url)
      case 'stream':
        return live.route(request, url)
      case 'metrics':
        return metricsRoute(request, metrics, metricsOptions?.authenticate, development)
    }
  }

  async function dispatch(request: Request, context: HandlerContext | undefined): Promise<{ response: Response; route: string }> {
    let url: URL
    try {
      url = new URL(request.url)
    } catch {
      return { response: jsonResponse(400, { error: '[usertracking] [server] The request URL is invalid.' }), route: 'unmatched' }
    }
    const path = trimPath(url.pathname)
    const match = routes.get(path)
    try {
      if (!match) throw new HttpError(404, `No route ${path}.`)
      if (request.method === 'OPTIONS' && cors) return { response: cors.preflight(request, match.method), route: match.path }
      if (request.method !== match.method) throw new HttpError(405, `Use ${match.method} for ${path}.`, { headers: { allow: match.method } })
      return { response: await serve(match, request, url, context), route: match.path }
    } catch (error) {
      const route = match?.path ?? 'unmatched'
      if (error instanceof Response) {
        await discardBody(request, body)
        // Copied so CORS headers can be added even to a Response with immutable headers (Response.redirect).
        return { response: new Response(error.body, error), route }
      }
      if (HttpError.isInstance(error)) {
        // Read to the end (within bounds) so a client still sending can read the answer.
        await discardBody(request, body)
        return { response: errorResponse(error), route }
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
      response = jsonResponse(500, { error: '[usertracking] [server] Something went wrong on the server.' })
    }
    metrics.request(route, request.method, response.status)
    return cors ? cors.apply(request, response) : response
  }
  return Object.assign(handler, {
    close() {
      live.close()
      feed.close()
    },
  })
}
