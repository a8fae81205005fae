import type { StatsBucket } from '@usertracking/core'
import { useActivityContext } from './context'
import type { ActivityStatsState } from './use-activity-stats'

/** What {@link ActivityChart} plots per bucket. */
export type ChartMetric = 'count' | 'tokens' | 'cost'

/** Props of {@link ActivityChart}. */
export interface ActivityChartProps {
  /** From {@link useActivityStats} asked with the same `intervalMs` (and no `per`). */
  stats: ActivityStatsState
  /** The bucket width the stats were asked for, in ms. */
  intervalMs: number
  /** @default 'count' */
  metric?: ChartMetric
  /** Start of the period shown; empty buckets before the first activity are drawn too. @default the first bucket */
  from?: string | Date
  /** End of the period shown (exclusive). @default the end of the last bucket */
  to?: string | Date
  /** The chart's heading. @default 'Activities over time', 'Tokens over time' or 'Cost over time' */
  title?: string
}

const WIDTH = 480
const HEIGHT = 180
const LEFT = 44
const BOTTOM = 22
const TOP = 8
/** More bars than this would be thinner than a pixel on a phone; a wider interval reads better. */
const MAX_BARS = 366

const TITLES: Record<ChartMetric, string> = { count: 'Activities over time', tokens: 'Tokens over time', cost: 'Cost over time' }
const UNITS: Record<ChartMetric, [one: string, many: string]> = { count: ['activity', 'activities'], tokens: ['token', 'tokens'], cost: ['', ''] }

/**
 * Activities, tokens or cost per time bucket as an accessible SVG bar chart (each bar has a
 * tooltip title, the chart a text summary), hand-written: no chart library in your bundle. Colours
 * come from the `--ut-chart-*` CSS variables.
 */
export function ActivityChart({ stats: state, intervalMs, metric = 'count', from, to, title = TITLES[metric] }: ActivityChartProps) {
  const { format } = useActivityContext()
  const buckets = (state.stats?.buckets ?? []).filter((bucket): bucket is StatsBucket & { start: string } => bucket.start !== undefined)
  const byStart = new Map(buckets.map((bucket) => [Date.parse(bucket.start), bucket]))
  // Buckets are aligned to the Unix epoch, as the server aligns them.
  const first = from !== undefined ? Math.floor(new Date(from).getTime() / intervalMs) * intervalMs : Date.parse(buckets[0]?.start ?? '')
  const end = to !== undefined ? new Date(to).getTime() : Date.parse(buckets.at(-1)?.start ?? '') + intervalMs
  const slots: { start: number; value: number }[] = []
  for (let start = first; start < end && slots.length < MAX_BARS; start += intervalMs) {
    const bucket = byStart.get(start)
    slots.push({ start, value: bucket ? bucket[metric] : 0 })
  }
  const show = (value: number) => (metric === 'cost' ? format.money(value) : format.number(value))
  const unit = (value: number) => (metric === 'cost' ? '' : ` ${UNITS[metric][value === 1 ? 0 : 1]}`)
  const max = Math.max(0, ...slots.map((slot) => slot.value))
  const total = slots.reduce((sum, slot) => sum + slot.value, 0)
  const peak = slots.find((slot) => slot.value === max)
  const label = (start: number) => format.bucket(new Date(start).toISOString(), intervalMs)
  const summary =
    slots.length === 0
      ? `${title}: no data`
      : `${title}: ${show(total)}${unit(total)} from ${label(slots[0]!.start)} to ${label(slots.at(-1)!.start)}${peak && max > 0 ? `, most on ${label(peak.start)} (${show(max)})` : ''}.`
  const plotWidth = WIDTH - LEFT
  const plotHeight = HEIGHT - TOP - BOTTOM
  const step = slots.length > 0 ? plotWidth / slots.length : plotWidth
  return (
    <figure className="ut ut-chart" aria-busy={state.loading}>
      <figcaption>{title}</figcaption>
      {state.error && !state.stats ? (
        <p className="ut-error" role="alert">
          Could not load the chart.
        </p>
      ) : (
        <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} className="ut-chart-svg">
          <line x1={LEFT} x2={WIDTH} y1={TOP + plotHeight} y2={TOP + plotHeight} className="ut-chart-axis" />
          <text x={LEFT - 6} y={TOP + 10} textAnchor="end" className="ut-chart-label">
            {show(max)}
          </text>
          <text x={LEFT - 6} y={TOP + plotHeight} textAnchor="end" className="ut-chart-label">
            0
          </text>
          {slots.map((slot, index) => {
            const height = max > 0 ? (slot.value / max) * plotHeight : 0
            return (
              <rect key={slot.start} x={LEFT + index * step + step * 0.1} y={TOP + plotHeight - height} width={Math.max(1, step * 0.8)} height={height} rx={Math.min(3, step * 0.2)} className="ut-chart-bar" data-metric={metric}>
                <title>{`${label(slot.start)}: ${show(slot.value)}${unit(slot.value)}`}</title>
              </rect>
            )
          })}
          {slots.length > 0 && (
            <>
              <text x={LEFT} y={HEIGHT - 6} className="ut-chart-label">
                {label(slots[0]!.start)}
              </text>
              <text x={WIDTH} y={HEIGHT - 6} textAnchor="end" className="ut-chart-label">
                {label(slots.at(-1)!.start)}
              </text>
            </>
          )}
        </svg>
      )}
    </figure>
  )
}
