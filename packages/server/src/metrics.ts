/**
 * A small Prometheus text-format (version 0.0.4) registry. prom-client needs Node's `process`,
 * `perf_hooks` and `cluster`, which edge runtimes lack; these three series types are all the
 * handlers need, and the exposition format is a stable, documented text format.
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 */

type Labels = Record<string, string>

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ''
  return `{${entries.map(([key, value]) => `${key}="${escapeLabelValue(value)}"`).join(',')}}`
}

function formatNumber(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  if (value === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(value)
}

interface Series {
  render(): string
}

class Counter implements Series {
  private readonly values = new Map<string, { labels: Labels; value: number }>()
  constructor(
    private readonly name: string,
    private readonly help: string,
    private readonly type: 'counter' | 'gauge' = 'counter',
  ) {}

  add(labels: Labels, by: number): void {
    const key = formatLabels(labels)
    const entry = this.values.get(key)
    if (entry) entry.value += by
    else this.values.set(key, { labels, value: by })
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`]
    for (const [key, entry] of this.values) lines.push(`${this.name}${key} ${formatNumber(entry.value)}`)
    return lines.join('\n')
  }
}

class Histogram implements Series {
  private readonly counts: number[]
  private sum = 0
  private count = 0
  constructor(
    private readonly name: string,
    private readonly help: string,
    private readonly bounds: readonly number[],
  ) {
    this.counts = bounds.map(() => 0)
  }

  observe(value: number): void {
    this.sum += value
    this.count++
    for (let index = 0; index < this.bounds.length; index++) if (value <= this.bounds[index]!) this.counts[index]!++
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    this.bounds.forEach((bound, index) => lines.push(`${this.name}_bucket{le="${formatNumber(bound)}"} ${this.counts[index]}`))
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`)
    return lines.join('\n')
  }
}

/** Seconds; from a memory store's sub-millisecond writes to a database under strain. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** The handler's counters, rendered at `GET /metrics`. */
export class HandlerMetrics {
  private readonly requests = new Counter('usertracking_http_requests_total', 'HTTP requests answered, by route, method and status.')
  private readonly errors = new Counter('usertracking_http_errors_total', 'HTTP requests answered with a 4xx or 5xx status, by route and status.')
  private readonly ingested = new Counter('usertracking_activities_ingested_total', 'Activities accepted and stored by the ingest routes.')
  private readonly invalid = new Counter('usertracking_activities_rejected_total', 'Activities refused by the ingest routes, by reason.')
  private readonly latency = new Histogram(
    'usertracking_ingest_duration_seconds',
    'Time from receiving an ingest request to answering it, in seconds.',
    LATENCY_BUCKETS,
  )
  private readonly streams = new Counter('usertracking_live_streams', 'Live activity streams open now.', 'gauge')

  constructor() {
    this.streams.add({}, 0)
    this.ingested.add({}, 0)
  }

  request(route: string, method: string, status: number): void {
    this.requests.add({ route, method, status: String(status) }, 1)
    if (status >= 400) this.errors.add({ route, status: String(status) }, 1)
  }

  ingest(accepted: number, seconds: number): void {
    if (accepted > 0) this.ingested.add({}, accepted)
    this.latency.observe(seconds)
  }

  rejected(reason: string, count: number): void {
    this.invalid.add({ reason }, count)
  }

  streamOpened(by: 1 | -1): void {
    this.streams.add({}, by)
  }

  /** The exposition text. */
  render(): string {
    return [this.requests, this.errors, this.ingested, this.invalid, this.latency, this.streams].map((series) => series.render()).join('\n') + '\n'
  }
}
