/**
 * A small Prometheus text-format (version 0.0.4) writer. prom-client needs Node's `process`,
 * `perf_hooks` and `cluster`, which edge runtimes lack; these three series types are all the
 * handlers need, and the exposition format is a stable, documented text format.
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 */

/** Label names to values. */
export type Labels = Record<string, string>

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

/** One metric family. */
export interface Series {
  render(): string
}

/** A counter, or with `type: 'gauge'` a value that goes both ways. */
export class Counter implements Series {
  private readonly values = new Map<string, { labels: Labels; value: number }>()
  constructor(
    private readonly name: string,
    private readonly help: string,
    /** Labels every sample carries (`metrics.labels`), written first. */
    private readonly constant: Labels,
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
    for (const entry of this.values.values()) lines.push(`${this.name}${formatLabels({ ...this.constant, ...entry.labels })} ${formatNumber(entry.value)}`)
    return lines.join('\n')
  }
}

/** A histogram with fixed bucket bounds. */
export class Histogram implements Series {
  private readonly counts: number[]
  private sum = 0
  private count = 0
  constructor(
    private readonly name: string,
    private readonly help: string,
    private readonly constant: Labels,
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
    const name = this.name
    const labels = (extra: Labels) => formatLabels({ ...this.constant, ...extra })
    const lines = [`# HELP ${name} ${this.help}`, `# TYPE ${name} histogram`]
    this.bounds.forEach((bound, index) => lines.push(`${name}_bucket${labels({ le: formatNumber(bound) })} ${this.counts[index]}`))
    lines.push(`${name}_bucket${labels({ le: '+Inf' })} ${this.count}`, `${name}_sum${labels({})} ${this.sum}`, `${name}_count${labels({})} ${this.count}`)
    return lines.join('\n')
  }
}
