import { HttpError } from './errors'
import type { GroupCommitObserver } from './group-commit'
import { Counter, Histogram, type Labels } from './prometheus'

/**
 * Says whether a request may read the metrics: `true` to serve it, `false` for a 401 (with
 * `WWW-Authenticate: Bearer`), or a `Response` to answer with as is.
 */
export type MetricsAuthenticate = (request: Request) => boolean | Response | Promise<boolean | Response>

/** The Prometheus route; see `ActivityHandlerOptions.metrics`. */
export interface MetricsOptions {
  /** Path of the route, outside `basePath`. @default '/metrics' */
  path?: string
  /**
   * Who may scrape. Without it the route answers 401 (unless `insecureDevelopmentMode` is set):
   * metrics name routes and volumes, which are nobody else's business. Use
   * {@link bearerToken} for Prometheus' `authorization` / `bearer_token_file`, or `() => true` on a
   * network only Prometheus reaches.
   */
  authenticate?: MetricsAuthenticate
  /**
   * Put in front of every metric name, so names fit a dashboard that already exists
   * (`user_activity_tracking_api_` gives `user_activity_tracking_api_requests_total`).
   * @default 'usertracking_'
   */
  prefix?: string
  /** Labels every sample carries, such as `{ service: 'events' }`; names may not clash with the handler's own. @default {} */
  labels?: Record<string, string>
}

/** Seconds; from a memory store's sub-millisecond writes to a database under strain. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Activities in one store write: from a lone request to group commit's default `maxActivities`. */
const WRITE_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]

/**
 * Methods that get their own `method` label value; any other becomes `OTHER`, so clients cannot
 * create series at will by sending made-up methods.
 */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/** Labels the handler sets itself; constant labels may not use these names. */
const OWN_LABELS = new Set(['route', 'method', 'status', 'reason', 'le'])

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

function checkedLabels(labels: Record<string, string> | undefined): Labels {
  const checked: Labels = {}
  for (const [name, value] of Object.entries(labels ?? {})) {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || OWN_LABELS.has(name)) {
      throw new TypeError(
        `[usertracking] [server] options.metrics.labels.${name} is not a label name this handler can use (letters, digits and _, not starting with __, not one of ${[...OWN_LABELS].join(', ')}).`,
      )
    }
    if (typeof value !== 'string') throw new TypeError(`[usertracking] [server] options.metrics.labels.${name} must be a string.`)
    checked[name] = value
  }
  return checked
}

/** The `method` label of a request: its method when it is a standard one, else `OTHER`. */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'OTHER'
}

/** The handler's counters, rendered at the metrics route. */
export class HandlerMetrics implements GroupCommitObserver {
  private readonly requests: Counter
  private readonly errors: Counter
  private readonly ingested: Counter
  private readonly rejectedActivities: Counter
  private readonly latency: Histogram
  private readonly streams: Counter
  private readonly queue: Counter
  private readonly writeLatency: Histogram
  private readonly writeSize: Histogram

  /** @throws TypeError naming the option when the prefix or a label is not valid Prometheus. */
  constructor(options: Pick<MetricsOptions, 'prefix' | 'labels'> = {}) {
    const prefix = options.prefix ?? 'usertracking_'
    if (typeof prefix !== 'string' || !METRIC_NAME.test(`${prefix}x`)) {
      throw new TypeError(`[usertracking] [server] options.metrics.prefix must be letters, digits, _ and : (not starting with a digit); got ${JSON.stringify(prefix)}.`)
    }
    const labels = checkedLabels(options.labels)
    const name = (suffix: string) => `${prefix}${suffix}`
    this.requests = new Counter(name('requests_total'), 'HTTP requests answered, by route, method and status.', labels)
    this.errors = new Counter(name('requests_errors_total'), 'HTTP requests answered with a 4xx or 5xx status, by route, method and status.', labels)
    this.ingested = new Counter(name('activities_ingested_total'), 'Activities accepted and stored by the ingest routes.', labels)
    this.rejectedActivities = new Counter(name('activities_rejected_total'), 'Activities refused by the ingest routes, by reason.', labels)
    this.latency = new Histogram(name('ingest_duration_seconds'), 'Time from receiving an ingest request to answering it, in seconds.', labels, LATENCY_BUCKETS)
    this.streams = new Counter(name('live_streams'), 'Live activity streams open now.', labels, 'gauge')
    this.queue = new Counter(name('ingest_queued_activities'), 'Activities of ingest requests waiting for a store write (group commit).', labels, 'gauge')
    this.writeLatency = new Histogram(name('ingest_write_duration_seconds'), 'Time each store write of the ingest routes took, in seconds (one write holds the requests that group commit put together).', labels, LATENCY_BUCKETS)
    this.writeSize = new Histogram(name('ingest_write_activities'), 'Activities in each store write of the ingest routes; its sum over its count is the mean group-commit size.', labels, WRITE_SIZE_BUCKETS)
    this.streams.add({}, 0)
    this.queue.add({}, 0)
    this.ingested.add({}, 0)
  }

  /**
   * Counts one answer. `route` is a path of the route table or `unmatched`, and `method` comes
   * from a fixed set, so the number of series stays bounded whatever clients send.
   */
  request(route: string, method: string, status: number): void {
    const labels = { route, method: methodLabel(method), status: String(status) }
    this.requests.add(labels, 1)
    if (status >= 400) this.errors.add(labels, 1)
  }

  /** Counts activities stored by one ingest request, and the time it took. */
  ingest(accepted: number, seconds: number): void {
    if (accepted > 0) this.ingested.add({}, accepted)
    this.latency.observe(seconds)
  }

  /** Counts activities refused, by a reason from the handler's own fixed set. */
  rejected(reason: 'invalid' | 'forbidden' | 'store_failure' | 'store_rejected', count: number): void {
    this.rejectedActivities.add({ reason }, count)
  }

  /** Moves the open-streams gauge. */
  streamOpened(by: 1 | -1): void {
    this.streams.add({}, by)
  }

  /** Moves the gauge of activities waiting for a store write. */
  queued(by: number): void {
    this.queue.add({}, by)
  }

  /** Counts one store write of the ingest routes: its activities, and the time it took. */
  wrote(activities: number, seconds: number): void {
    this.writeLatency.observe(seconds)
    this.writeSize.observe(activities)
  }

  /** The exposition text. */
  render(): string {
    const series = [this.requests, this.errors, this.ingested, this.rejectedActivities, this.latency, this.writeLatency, this.writeSize, this.streams, this.queue]
    return series.map((one) => one.render()).join('\n') + '\n'
  }
}

/**
 * The metrics route: refused unless `authenticate` (or development mode) lets the request in.
 *
 * @param metrics - what to render.
 * @param authenticate - the guard of `options.metrics`.
 * @param open - serve without a guard (`insecureDevelopmentMode`).
 */
export async function metricsRoute(request: Request, metrics: HandlerMetrics, authenticate: MetricsAuthenticate | undefined, open: boolean): Promise<Response> {
  if (!open) {
    if (!authenticate) {
      throw new HttpError(401, 'The metrics route needs `metrics.authenticate` (for example `bearerToken(process.env.METRICS_TOKEN)`) before it answers.', {
        headers: { 'www-authenticate': 'Bearer realm="metrics"' },
      })
    }
    const answer = await authenticate(request)
    if (answer instanceof Response) throw answer
    if (answer !== true) throw new HttpError(401, 'Send the metrics token as `Authorization: Bearer <token>`.', { headers: { 'www-authenticate': 'Bearer realm="metrics"' } })
  }
  return new Response(metrics.render(), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' } })
}
