import { isPlainObject, monotonicNow, normalizeActivity, type Activity, type NormalizeOptions, type SinkResult } from '@usertracking/core'
import type { Access } from './auth'
import type { BodyLimits, BodyResult } from './body'
import { anonymizeIp, clientIpFrom, type TrustProxy } from './client-ip'
import { fromAnotherSite, needsPreflight } from './cross-site'
import { HttpError, type HttpIssue, type JsonAnswer } from './errors'
import type { GroupCommit } from './group-commit'
import type { LiveFeed } from './live-feed'
import type { HandlerMetrics } from './metrics'
import type { RateLimiter } from './rate-limit'

/** What an ingest route needs from its handler. */
export interface IngestDependencies {
  /** Names the store in answers. */
  storeName: string
  /** Writes the activities, several requests at a time. */
  commit: GroupCommit
  access: Access
  /** Whether pages of an origin may send signed-in requests (the CORS origins with `credentials`). */
  trustedOrigin: (origin: string) => boolean
  /** `insecureDevelopmentMode`: every request is signed in, so none is refused as a forgery. */
  development: boolean
  body: BodyLimits
  maxBatchSize: number
  normalize: NormalizeOptions | undefined
  trustProxy: TrustProxy
  anonymizeIp: boolean
  rateLimiter: RateLimiter | undefined
  metrics: HandlerMetrics
  feed: LiveFeed
  now: () => number
}

/**
 * One ingest request, whichever way it arrived: a web `Request`, or node:http read directly
 * (`toNodeListener`'s fast path), so that both are served by the same rules.
 */
export interface IngestRequest {
  /** A request header, by its lower-case name. */
  header(name: string): string | null | undefined
  /** The peer's address. */
  remoteAddress: string | undefined
  /** The request as `authenticate` receives it (built only when asked for on the fast path). */
  request(): Request
  /** Reads the body as JSON within the limits. */
  json(limits: BodyLimits): Promise<BodyResult>
}

/** The answer of an ingest route. */
interface IngestAnswer {
  accepted: number
  ids: string[]
  rejected?: { id: string; error: string }[]
}

function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)))
}

/**
 * Whether the client sent the user id as a JSON number (`"user_id": 6`), which normalisation turns
 * into the string `"6"`. Kept as `context.userIdType` so a presenter can answer with what was sent.
 */
function sentUserIdAsNumber(input: unknown): boolean {
  if (!isPlainObject(input)) return false
  const value = input.userId ?? input.user_id
  return typeof value === 'number'
}

/** The activity fields holding a time, which core's schema takes with a four-digit year only. */
const TIME_FIELDS = ['timestamp', 'endTime', 'receivedAt'] as const

/**
 * The time fields of a normalised activity outside the years 0000–9999. `normalizeActivity` passes
 * them as `Date#toISOString` writes them (`+010000-01-01T…`), while core's schema (which
 * `parseActivity` applies after it) refuses them; this keeps the route's answer that of the schema.
 * Everything else `normalizeActivity` accepts, the schema accepts (ingest.test.ts checks it by property).
 */
function extendedYears(activity: Activity): (typeof TIME_FIELDS)[number][] {
  const fields: (typeof TIME_FIELDS)[number][] = []
  for (const field of TIME_FIELDS) {
    const time = activity[field]
    if (time !== undefined && (time.charCodeAt(0) < 48 || time.charCodeAt(0) > 57)) fields.push(field)
  }
  return fields
}

/** The activities of a body: one activity, an array, or `{ activities: [...] }`, with the path prefix of each. */
function unpack(value: unknown): { inputs: unknown[]; prefix: (index: number) => (string | number)[] } {
  if (Array.isArray(value)) return { inputs: value, prefix: (index) => [index] }
  if (isPlainObject(value) && Array.isArray(value.activities)) return { inputs: value.activities, prefix: (index) => ['activities', index] }
  return { inputs: [value], prefix: () => [] }
}

/**
 * The ingest routes: who may send (anonymous requests are rate limited and may not name a user),
 * the body read within its limits, every activity validated (a request is stored whole or not at
 * all), the server's own facts set (`receivedAt`, the IP, the user agent), and the write, shared
 * with the requests arriving at the same time (see `createGroupCommit`).
 */
export function createIngestRoute(deps: IngestDependencies): (input: IngestRequest, status: 200 | 201) => Promise<JsonAnswer> {
  const { access, metrics } = deps
  return async (input, status) => {
    const started = deps.now()
    const startedMark = monotonicNow()
    const principal = await access.writer(input.request)
    if (principal && !deps.development && !needsPreflight(input.header('content-type')) && fromAnotherSite(input.header, deps.trustedOrigin, () => input.request().url)) {
      // Cookies go with a CORS-simple request from any page, preflight-free: taken, it would let
      // any website write activities as the signed-in visitor (cross-site request forgery).
      throw new HttpError(403, 'A signed-in request from another site must send its body as application/json (or come from an origin in cors.origin with credentials).')
    }
    const rawIp = clientIpFrom(input.header('x-forwarded-for'), input.remoteAddress, deps.trustProxy)
    if (!principal && deps.rateLimiter) {
      // Requests without a known address share one bucket rather than escaping the limit.
      const waitMs = deps.rateLimiter.take(rawIp ?? 'unknown')
      if (waitMs > 0) throw new HttpError(429, 'Too many requests from this address; slow down.', { headers: { 'retry-after': retryAfterSeconds(waitMs) } })
    }
    const body = await input.json(deps.body)
    if (!body.ok) throw new HttpError(body.status, body.message)
    const { inputs, prefix } = unpack(body.value)
    if (inputs.length === 0) throw new HttpError(400, 'The request holds no activities.')
    if (inputs.length > deps.maxBatchSize) throw new HttpError(413, `At most ${deps.maxBatchSize} activities fit in one request.`)
    const activities: Activity[] = []
    const issues: HttpIssue[] = []
    inputs.forEach((input, index) => {
      // Not parseActivity: its zod pass over the normalised activity costs twice the normalisation
      // and refuses nothing more than extendedYears does.
      const normalized = normalizeActivity(input, deps.normalize)
      if (!normalized.ok) {
        for (const issue of normalized.issues) issues.push({ path: [...prefix(index), ...issue.path], message: issue.message })
        return
      }
      const { activity } = normalized
      const outOfRange = extendedYears(activity)
      if (outOfRange.length > 0) {
        for (const field of outOfRange) issues.push({ path: [...prefix(index), field], message: 'Invalid ISO datetime' })
        return
      }
      // The IP is the server's to say: a client's claim is dropped even when the server has none.
      if (activity.context) delete activity.context.ip
      if (sentUserIdAsNumber(input)) (activity.context ??= {}).userIdType = 'number'
      activities.push(activity)
    })
    if (issues.length > 0) {
      metrics.rejected('invalid', inputs.length)
      throw new HttpError(400, 'The activity data is invalid; each issue names its field.', { issues })
    }
    try {
      access.claim(activities, principal)
    } catch (error) {
      metrics.rejected('forbidden', activities.length)
      throw error
    }
    const receivedAt = new Date(started).toISOString()
    const ip = rawIp && deps.anonymizeIp ? anonymizeIp(rawIp) : rawIp
    const userAgent = input.header('user-agent') ?? undefined
    for (const activity of activities) {
      activity.receivedAt = receivedAt
      if (ip !== undefined) (activity.context ??= {}).ip = ip
      if (userAgent !== undefined) (activity.context ??= {}).userAgent ??= userAgent
    }
    let result: SinkResult
    try {
      result = await deps.commit.write(activities)
    } catch (error) {
      // A timed-out write may still land: the client retries with the same ids and the store's
      // id dedupe absorbs the repeat.
      metrics.rejected('store_failure', activities.length)
      throw error
    }
    if (result.type === 'retryable') {
      metrics.rejected('store_failure', activities.length)
      throw new HttpError(503, `The ${deps.storeName} store is unavailable; try again.`, { headers: { 'retry-after': retryAfterSeconds(result.retryInMs ?? 1000) } })
    }
    if (result.type === 'too_large') throw new HttpError(413, `The ${deps.storeName} store refused a batch this large.`)
    if (result.type === 'failure') {
      metrics.rejected('store_failure', activities.length)
      throw new HttpError(422, `The ${deps.storeName} store refused these activities.`)
    }
    const refused = new Set((result.rejected ?? []).map((entry) => entry.id))
    const stored = refused.size === 0 ? activities : activities.filter((activity) => !refused.has(activity.id))
    if (refused.size > 0) metrics.rejected('store_rejected', refused.size)
    deps.feed.publish(stored)
    metrics.ingest(stored.length, (monotonicNow() - startedMark) / 1000)
    const answer: IngestAnswer = { accepted: stored.length, ids: stored.map((activity) => activity.id) }
    if (result.rejected?.length) answer.rejected = result.rejected
    return { status, body: answer }
  }
}
