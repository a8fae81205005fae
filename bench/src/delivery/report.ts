/**
 * The delivery suite's tables: one per measure (defaults rows first, then tuned), then the ratios
 * of usertracking against the best peer measured in the same run, defaults against defaults and
 * tuned against tuned.
 */
import { format, megabytes, table } from '../report/markdown'
import type { Outcome } from './run-measure'
import { DRAIN_TIMEOUT_MS, OUTAGE_MS, OUTAGE_SLICES, ROUND_CALLS, ROUNDS, type DeliveryResult, type PerCallResult } from './protocol'
import { EVENTS, type Scenario } from './scenarios'

/** Every measure's outcome for one scenario (a measure left out by the command line is absent). */
export interface ScenarioOutcomes {
  scenario: Scenario
  /** One outcome per round (`ROUNDS` of them). */
  perCall?: Outcome[]
  burst?: Outcome
  outage?: Outcome
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** The medians over the rounds that produced a result; undefined when none did. */
function perCall(row: ScenarioOutcomes): PerCallResult | undefined {
  const rounds = (row.perCall ?? []).map((outcome) => outcome.result as PerCallResult | undefined).filter((result) => result !== undefined)
  if (rounds.length === 0) return undefined
  return { callNs: median(rounds.map((round) => round.callNs)), callWithMicrotasksNs: median(rounds.map((round) => round.callWithMicrotasksNs)) }
}
const delivery = (outcome: Outcome | undefined) => outcome?.result as DeliveryResult | undefined

/** Events delivered per second, from the first `track()` to the last new event at the collector. */
function deliveredPerSecond(outcome: Outcome): number {
  const result = delivery(outcome)!
  const { delivered, lastDeliveryAt } = outcome.counts
  return delivered === 0 ? 0 : delivered / ((lastDeliveryAt - result.startedAt) / 1000)
}

const lost = (outcome: Outcome) => EVENTS - outcome.counts.delivered
const sdkCell = (row: ScenarioOutcomes) => (row.scenario.ours ? `**${row.scenario.sdk}**` : row.scenario.sdk)
const failed = (outcome: Outcome | undefined) => `failed: ${outcome?.error?.split('\n')[0] ?? 'not run'}`

function perCallTable(rows: ScenarioOutcomes[]): string {
  return table(
    [{ header: 'SDK' }, { header: 'settings' }, { header: 'track() (ns)', numeric: true }, { header: 'with its promise jobs (ns)', numeric: true }],
    rows.map((row) => {
      const result = perCall(row)
      return [sdkCell(row), row.scenario.settings, ...(result ? [format(result.callNs), format(result.callWithMicrotasksNs)] : [failed(row.perCall?.[0]), ''])]
    }),
  )
}

/** A column of one delivery measure's own, after those every delivery measure shares. */
interface DeliveryColumn {
  header: string
  cell: (outcome: Outcome, result: DeliveryResult) => string
}

/** SDK, settings, delivered, lost and duplicates, then `columns`; one row per scenario. */
function deliveryTable(rows: ScenarioOutcomes[], outcomeOf: (row: ScenarioOutcomes) => Outcome | undefined, columns: DeliveryColumn[]): string {
  const shared = ['delivered', 'lost', 'duplicates']
  return table(
    [{ header: 'SDK' }, { header: 'settings' }, ...[...shared, ...columns.map((column) => column.header)].map((header) => ({ header, numeric: true }))],
    rows.map((row) => {
      const outcome = outcomeOf(row)
      const result = delivery(outcome)
      const lead = [sdkCell(row), row.scenario.settings]
      if (!outcome) return [...lead, failed(outcome), ...Array<string>(shared.length - 1 + columns.length).fill('')]
      const { delivered, duplicates } = outcome.counts
      // A child that failed or missed its deadline still leaves what the collector received.
      const why = !result ? ` (${failed(outcome)})` : result.flushCutOff ? ` (flush cut off at ${DRAIN_TIMEOUT_MS / 1000} s)` : ''
      const own = result ? columns.map((column) => column.cell(outcome, result)) : columns.map(() => '—')
      return [...lead, format(delivered), `${format(lost(outcome))}${why}`, format(duplicates), ...own]
    }),
  )
}

const burstTable = (rows: ScenarioOutcomes[]) =>
  deliveryTable(rows, (row) => row.burst, [
    { header: 'delivered / s', cell: (outcome) => format(deliveredPerSecond(outcome)) },
    { header: 'peak RSS growth', cell: (_, result) => megabytes(result.rssGrowthBytes) },
    { header: 'worst event-loop delay', cell: (_, result) => `${format(result.maxLoopDelayMs)} ms` },
  ])

const outageTable = (rows: ScenarioOutcomes[]) =>
  deliveryTable(rows, (row) => row.outage, [
    { header: 'peak RSS growth', cell: (_, result) => megabytes(result.rssGrowthBytes) },
    {
      header: 'last delivery after the outage',
      cell: (outcome, result) => (outcome.counts.delivered === 0 ? '—' : `${format((outcome.counts.lastDeliveryAt - result.trackedAt) / 1000, 1)} s`),
    },
  ])

/** One quantity compared in the ratio tables. */
interface Quantity {
  name: string
  /** The value of a row, or undefined when that row's measure failed or did not run. */
  value: (row: ScenarioOutcomes) => number | undefined
  lowerIsBetter: boolean
  show: (value: number) => string
  /**
   * Compare only with peers that lost nothing in that measure (when any did): a peer that dropped
   * most of the burst has little left to deliver or hold in memory.
   */
  losslessPeersOnly?: 'burst' | 'outage'
  /** Counts (events lost) compare as a difference, since the best is often 0. */
  difference?: boolean
  /** Issue 10's target for usertracking at default settings. */
  target: string
}

const withResult = <T>(outcome: Outcome | undefined, pick: (outcome: Outcome, result: DeliveryResult) => T) => {
  const result = delivery(outcome)
  return outcome && result ? pick(outcome, result) : undefined
}

const QUANTITIES: Quantity[] = [
  { name: 'track() (ns)', value: (row) => perCall(row)?.callNs, lowerIsBetter: true, show: (value) => `${format(value)} ns`, target: '≤ 1,000 ns and below OpenTelemetry' },
  { name: 'track() with its promise jobs (ns)', value: (row) => perCall(row)?.callWithMicrotasksNs, lowerIsBetter: true, show: (value) => `${format(value)} ns`, target: '' },
  { name: 'burst: lost', value: (row) => withResult(row.burst, lost), lowerIsBetter: true, show: format, difference: true, target: '0' },
  { name: 'burst: delivered / s', value: (row) => withResult(row.burst, deliveredPerSecond), lowerIsBetter: false, show: format, losslessPeersOnly: 'burst', target: '≥ 100,000' },
  { name: 'burst: peak RSS growth', value: (row) => withResult(row.burst, (_, result) => result.rssGrowthBytes), lowerIsBetter: true, show: megabytes, losslessPeersOnly: 'burst', target: '≤ 50 MB' },
  { name: 'burst: worst event-loop delay', value: (row) => withResult(row.burst, (_, result) => result.maxLoopDelayMs), lowerIsBetter: true, show: (value) => `${format(value)} ms`, losslessPeersOnly: 'burst', target: '≤ 20 ms' },
  { name: 'outage: lost', value: (row) => withResult(row.outage, lost), lowerIsBetter: true, show: format, difference: true, target: '0' },
  { name: 'outage: peak RSS growth', value: (row) => withResult(row.outage, (_, result) => result.rssGrowthBytes), lowerIsBetter: true, show: megabytes, losslessPeersOnly: 'outage', target: '≤ 50 MB' },
]

function compare(quantity: Quantity, ours: number | undefined, best: number): string {
  if (ours === undefined) return '—'
  if (quantity.difference) return ours === best ? 'same' : `${ours > best ? '+' : '−'}${format(Math.abs(ours - best))}`
  return best === 0 ? '—' : `${format(ours / best, 2)}×`
}

function ratioTable(rows: ScenarioOutcomes[], withTargets: boolean): string {
  const ours = rows.filter((row) => row.scenario.ours)
  const peers = rows.filter((row) => !row.scenario.ours)
  const lines: string[][] = []
  for (const quantity of QUANTITIES) {
    const measured = peers.filter((row) => quantity.value(row) !== undefined)
    const lossless = quantity.losslessPeersOnly
      ? measured.filter((row) => (quantity.losslessPeersOnly === 'burst' ? row.burst : row.outage)!.counts.delivered === EVENTS)
      : []
    const candidates = lossless.length > 0 ? lossless : measured
    if (candidates.length === 0) continue
    const pick = quantity.lowerIsBetter ? Math.min : Math.max
    const best = pick(...candidates.map((row) => quantity.value(row)!))
    const bestRow = candidates.find((row) => quantity.value(row) === best)!
    const note = quantity.losslessPeersOnly && lossless.length === 0 ? ' (every peer lost events)' : ''
    lines.push([
      quantity.name,
      `${bestRow.scenario.sdk}${note}: ${quantity.show(best)}`,
      ...ours.flatMap((row) => {
        const value = quantity.value(row)
        return [value === undefined ? '—' : quantity.show(value), compare(quantity, value, best)]
      }),
      ...(withTargets ? [quantity.target] : []),
    ])
  }
  return table(
    [
      { header: 'quantity' },
      { header: 'best peer' },
      ...ours.flatMap((row) => [{ header: row.scenario.sdk, numeric: true }, { header: '÷ best peer', numeric: true }]),
      ...(withTargets ? [{ header: 'target (issue 10)', numeric: true }] : []),
    ],
    lines,
  )
}

/** Every table of the run, as Markdown, with what each measure did. */
export function deliveryReport(rows: ScenarioOutcomes[], machine: string): string {
  const sections = [
    `Measured on ${machine}; every SDK in its own child process, sending to a node:http collector on 127.0.0.1 in the parent that parses each SDK's real payload and counts distinct events.`,
  ]
  const ordered = [...rows.filter((row) => !row.scenario.tuned), ...rows.filter((row) => row.scenario.tuned)]
  if (rows.some((row) => row.perCall)) {
    sections.push(
      `### track() per call\n\nMedian of ${ROUNDS} rounds of ${format(ROUND_CALLS)} calls, each in a fresh process after an untimed warm-up round, the SDKs taking turns round by round. "With its promise jobs" adds the work the calls queued for right after them (PostHog prepares each event in a promise).\n\n${perCallTable(ordered.filter((row) => row.perCall))}`,
    )
  }
  if (rows.some((row) => row.burst)) {
    sections.push(
      `### A burst of ${format(EVENTS)} events\n\n${format(EVENTS)} \`track()\` calls in one synchronous loop, then the SDK's own flush and close (each bounded). Delivered / s runs from the first call to the last new event at the collector; peak RSS growth from just before the first call; the event-loop delay is the worst while delivering, after the loop returned.\n\n${burstTable(ordered.filter((row) => row.burst))}`,
    )
  }
  if (rows.some((row) => row.outage)) {
    sections.push(
      `### ${format(EVENTS)} events during a ${OUTAGE_MS / 1000} s collector outage\n\nThe collector answers 503 (no Retry-After) from the first \`track()\` until the last, ${OUTAGE_MS / 1000} s later (the events tracked in equal slices every ${OUTAGE_MS / OUTAGE_SLICES} ms); then it recovers, and the SDK's own retries, flush and close deliver what it kept.\n\n${outageTable(ordered.filter((row) => row.outage))}`,
    )
  }
  const groups = [
    { title: 'Default settings', rows: rows.filter((row) => !row.scenario.tuned), withTargets: true },
    { title: 'Tuned', rows: rows.filter((row) => row.scenario.tuned), withTargets: false },
  ].filter((group) => group.rows.some((row) => row.scenario.ours) && group.rows.some((row) => !row.scenario.ours))
  if (groups.length > 0) {
    sections.push(
      `### Ratios against the best peer in this run\n\nusertracking ÷ the best of OpenTelemetry, Amplitude, PostHog and Segment at the same kind of settings: below 1× is better for costs, above 1× for delivered / s; lost events compare as a difference. For delivered / s, RSS and loop delay the best peer is chosen among those that lost nothing in that measure, when one did. The targets are issue 10's, for usertracking at default settings.`,
      ...groups.map((group) => `#### ${group.title}\n\n${ratioTable(group.rows, group.withTargets)}`),
    )
  }
  return sections.join('\n\n')
}
