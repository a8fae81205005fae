import { MAX_TIMER_MS, positiveOption, type NormalizeOptions, type Sink, type Store } from '@usertracking/core'
import { createAccess, type Authenticate } from './auth'
import { discardBody, readJsonBody, type BodyLimits } from './body'
import type { TrustProxy } from './client-ip'
import { createCors, type CorsOptions } from './cors'
import { answerResponse, errorResponse, HttpError, INTERNAL_ERROR, jsonResponse } from './errors'
import { createExportRoute } from './export-stream'
import { NODE_FAST_PATH, type NodeFastPath } from './fast-path'
import { createGroupCommit, groupCommitLimits, type GroupCommitOptions } from './group-commit'
import { createIdentifyRoute } from './identify-route'
import { createIngestRoute, type IngestRequest } from './ingest'
import { LiveFeed } from './live-feed'
import { checkLiveOptions, type LiveOptions } from './live-options'
import { createLiveStreamRoute } from './live-stream'
import { HandlerMetrics, metricsRoute, type MetricsOptions } from './metrics'
import { createPersonalDataRoutes } from './personal-data'
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
   * Group commit: ingest requests that overlap in time share one store write (one database
   * commit), each answered once that write has settled, with its own result, and never before its
   * activities are stored. `false` writes each request on its own.
   * @default {} (at most 1000 activities a write, 4 writes in flight, no added wait, 10000 activities queued)
   */
  groupCommit?: false | GroupCommitOptions
  /**
   * The HMAC key of the hashes a deletion record keeps (see `deletionHash`). Without it they are
   * plain SHA-256, which anyone reading the records can match against an id they can guess.
   * @default undefined (SHA-256)
   */
  deletionHashKey?: string
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
  /**
   * Where the ingest routes write. `sink` replaces `store.sink` for ingest only (reads still go to
   * the store): `redisStreamSink` from `@usertracking/redis` answers 2xx once Redis holds the
   * activities, and a worker drains them into the store, so a store stall no longer holds requests.
   * The sink's writes get the same time limit (`storeTimeoutMs`) and answers as the store's.
   * @default {} (ingest writes to `store.sink`)
   */
  ingest?: { sink?: Sink }
  /** The live stream's bus to other instances, backlog, polling and heartbeat. */
  live?: LiveOptions
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

/**
 * A web-standard request handler serving the activity routes. {@link toNodeListener} serves its
 * ingest routes on node:http without building web `Request` / `Response` objects.
 */
export interface ActivityHandler {
  /** Answers one request; never rejects. */
  (request: Request, context?: HandlerContext): Promise<Response>
  /** Ends open live streams and stops watching the store. */
  close(): void
}

/** A positive number option of the handler; the time limits, which become timers, at most {@link MAX_TIMER_MS}. */
function numberOption(options: ActivityHandlerOptions, name: 'maxBodyBytes' | 'maxDrainBytes' | 'bodyTimeoutMs' | 'storeTimeoutMs' | 'maxBatchSize' | 'recentWindowMs', fallback: number): number {
  const timer = name === 'bodyTimeoutMs' || name === 'storeTimeoutMs'
  return positiveOption(options[name], `options.${name}`, fallback, { scope: 'server', ...(timer ? { max: MAX_TIMER_MS } : {}) })
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
 * - `POST /identify`: a signed-in user links their user id to their earlier anonymous id.
 * - `GET /personal-data` and `DELETE /personal-data`: one person's activities, exported or deleted
 *   (each deletion leaves a `data_deletion` record that names no one).
 * - `GET /metrics` (outside `basePath`): Prometheus text format, behind `metrics.authenticate`.
 *
 * @param options - the store, authentication and limits; see {@link ActivityHandlerOptions}.
 * @throws TypeError naming the option when an option is invalid (an unsafe CORS setup, a route
 * path used twice for one method, a metric prefix Prometheus cannot read, a limit that is not positive).
 */
export function createActivityHandler(options: ActivityHandlerOptions): ActivityHandler {
  const { store } = options
  const now = options.now ?? Date.now
  const report =
    options.onError ??
    ((error: unknown) => {
      console.error(`[usertracking] [server] ${error instanceof Error ? error.message : String(error)}`, error)
    })
  // The one path errors are reported through; a hook that throws must not break the request it reports on.
  const onError = (error: unknown) => {
    try {
      report(error)
    } catch {
      // Nothing is left to tell.
    }
  }
  const development = options.insecureDevelopmentMode === true
  if (development) {
    console.warn('[usertracking] [server] insecureDevelopmentMode is on: anyone can read every activity, write as any user and read the metrics. Never deploy it.')
  }
  const body: BodyLimits = {
    maxBytes: numberOption(options, 'maxBodyBytes', 1024 * 1024),
    maxDrainBytes: numberOption(options, 'maxDrainBytes', 16 * 1024 * 1024),
    timeoutMs: numberOption(options, 'bodyTimeoutMs', 30_000),
  }
  const metricsOptions = options.metrics === false ? undefined : (options.metrics ?? {})
  const routes = buildRouteTable(trimPath(options.basePath ?? '/api').replace(/^\/$/, ''), options.routes ?? {}, metricsOptions ? (metricsOptions.path ?? '/metrics') : undefined)
  const cors = createCors(options.cors)
  const metrics = new HandlerMetrics(metricsOptions)
  const access = createAccess(options)
  const storeTimeoutMs = numberOption(options, 'storeTimeoutMs', 10_000)
  const storeCaller = createStoreCaller(store.name, storeTimeoutMs, onError)
  const ingestSink = options.ingest?.sink ?? store.sink
  if (typeof ingestSink?.write !== 'function') throw new TypeError('[usertracking] [server] options.ingest.sink must be a Sink (an object with a write method).')
  const query = queryOptions(options)
  if (options.deletionHashKey !== undefined && (typeof options.deletionHashKey !== 'string' || options.deletionHashKey.length < 16)) {
    throw new TypeError('[usertracking] [server] options.deletionHashKey must be a secret string of at least 16 characters.')
  }
  const liveOptions = checkLiveOptions(options.live)
  const feed = new LiveFeed(store, liveOptions, storeCaller, onError)
  const ingest = createIngestRoute({
    storeName: ingestSink.name,
    commit: createGroupCommit(
      ingestSink,
      groupCommitLimits(options.groupCommit),
      ingestSink === store.sink ? storeCaller : createStoreCaller(ingestSink.name, storeTimeoutMs, onError),
      storeTimeoutMs,
      onError,
      metrics,
    ),
    access,
    trustedOrigin: (origin) => cors?.trusts(origin) === true,
    development,
    body,
    maxBatchSize: numberOption(options, 'maxBatchSize', 1000),
    normalize: options.normalize,
    trustProxy: options.trustProxy ?? false,
    anonymizeIp: options.anonymizeIp === true,
    rateLimiter: options.rateLimit ? createRateLimiter(options.rateLimit, now) : undefined,
    metrics,
    feed,
    now,
  })
  const reads = createReadRoutes({
    store,
    access,
    storeCaller,
    present: options.present ?? {},
    query,
    pagination: options.pagination ?? 'cursor',
    recentWindowMs: numberOption(options, 'recentWindowMs', 86_400_000),
    now,
  })
  const exportRoute = createExportRoute({ store, access, storeCaller, query, onError })
  const live = createLiveStreamRoute({ access, feed, metrics, query, heartbeatMs: liveOptions.heartbeatMs })
  const identify = createIdentifyRoute({ store, access, body, storeCaller, development })
  const personalData = createPersonalDataRoutes({ store, sink: store.sink, access, storeCaller, query, hashKey: options.deletionHashKey, onError, now })

  /** An ingest request read through its web `Request`. */
  function webIngest(request: Request, context: HandlerContext | undefined): IngestRequest {
    return {
      header: (name) => request.headers.get(name),
      remoteAddress: context?.remoteAddress,
      request: () => request,
      json: (limits) => readJsonBody(request, limits),
    }
  }

  async function serve(match: MatchedRoute, request: Request, url: URL, context: HandlerContext | undefined): Promise<Response> {
    switch (match.name) {
      case 'ingest':
        return answerResponse(await ingest(webIngest(request, context), 200))
      case 'event':
        return answerResponse(await ingest(webIngest(request, context), 201))
      case 'list':
        return reads.list(request, url, match.path)
      case 'stats':
        return reads.stats(request, url, match.path)
      case 'export':
        return exportRoute(request, url)
      case 'stream':
        return live.route(request, url)
      case 'identify':
        return answerResponse(await identify(request))
      case 'personalDataExport':
        return personalData.export(request, url)
      case 'personalDataDelete':
        return answerResponse(await personalData.delete(request, url))
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
    const routesAtPath = routes.get(path)
    try {
      if (!routesAtPath) throw new HttpError(404, `No route ${path}.`)
      if (request.method === 'OPTIONS' && cors) return { response: cors.preflight(request, routesAtPath.allow), route: routesAtPath.path }
      const match = routesAtPath.methods[request.method as keyof typeof routesAtPath.methods]
      if (!match) throw new HttpError(405, `Use ${routesAtPath.allow.replace(/, (?=[^,]*$)/, ' or ')} for ${path}.`, { headers: { allow: routesAtPath.allow } })
      return { response: await serve(match, request, url, context), route: match.path }
    } catch (error) {
      const route = routesAtPath?.path ?? 'unmatched'
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
      // A bug, or a hook that threw something other than an HttpError: logged, and told no one.
      onError(error)
      return { response: answerResponse(INTERNAL_ERROR), route }
    }
  }

  const handler = async (request: Request, context?: HandlerContext): Promise<Response> => {
    let response: Response
    let route = 'unmatched'
    try {
      ;({ response, route } = await dispatch(request, context))
    } catch (error) {
      // Only a failure to build an answer (a hook's HttpError with headers no Response takes) gets here.
      onError(error)
      response = answerResponse(INTERNAL_ERROR)
    }
    metrics.request(route, request.method, response.status)
    return cors ? cors.apply(request, response) : response
  }

  const fastPath: NodeFastPath = {
    ingestAt(path) {
      const route = routes.get(path)?.methods.POST
      if (route?.name === 'ingest') return { path: route.path, status: 200 }
      if (route?.name === 'event') return { path: route.path, status: 201 }
      return undefined
    },
    ingest,
    body,
    cors,
    metrics,
    onError,
  }
  // Not part of the public type: only toNodeListener looks for it.
  Object.defineProperty(handler, NODE_FAST_PATH, { value: fastPath })
  return Object.assign(handler, {
    close() {
      live.close()
      feed.close()
    },
  })
}
