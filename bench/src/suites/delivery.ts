/**
 * usertracking against the OpenTelemetry logs SDK, Amplitude, PostHog and Segment, each at its
 * defaults and tuned, in one run (see `../delivery/scenarios.ts` for the exact settings):
 *
 * 1. `track()` cost per call;
 * 2. a burst of 100k events: delivered, lost, delivered / s, peak RSS growth, worst event-loop delay;
 * 3. 100k events tracked during a 5 s collector outage: delivered, lost, peak RSS growth.
 *
 * Each measure of each SDK runs in its own child process against a fresh collector on 127.0.0.1
 * (`../delivery/collector.ts`), and everything is bounded in time.
 *
 * Options: `--only usertracking,otel-tuned` (scenario ids), `--measures burst,outage`, and
 * `--write-docs` (a full run only) to replace the delivery section of `docs/benchmarks.md`.
 */
import { writeDocsRequested, writeDocsSection } from '../report/docs-page'
import { describeMachine } from '../report/machine'
import { ROUNDS, type Measure } from '../delivery/protocol'
import { deliveryReport, type ScenarioOutcomes } from '../delivery/report'
import { runMeasure, type Outcome } from '../delivery/run-measure'
import { SCENARIOS } from '../delivery/scenarios'

const MEASURES: Measure[] = ['per-call', 'burst', 'outage']

function listOption(name: string): string[] | undefined {
  const index = process.argv.indexOf(name)
  return index === -1 ? undefined : (process.argv[index + 1] ?? '').split(',').filter(Boolean)
}

const only = listOption('--only')
const measures = (listOption('--measures') as Measure[] | undefined) ?? MEASURES
for (const id of only ?? []) {
  if (!SCENARIOS.some((scenario) => scenario.id === id)) throw new Error(`[usertracking] [bench] --only: no scenario ${id}; there are ${SCENARIOS.map((scenario) => scenario.id).join(', ')}.`)
}
for (const measure of measures) {
  if (!MEASURES.includes(measure)) throw new Error(`[usertracking] [bench] --measures: no measure ${measure}; there are ${MEASURES.join(', ')}.`)
}
const writeDocs = writeDocsRequested()
if (writeDocs && (only || measures.length !== MEASURES.length)) {
  throw new Error('[usertracking] [bench] --write-docs needs a full run: drop --only and --measures.')
}

/** Runs one measure of one row, logging its progress to stderr. */
async function runLogged(measure: Measure, row: ScenarioOutcomes): Promise<Outcome> {
  const started = Date.now()
  const outcome = await runMeasure(measure, row.scenario)
  const status = outcome.error ? `failed: ${outcome.error}` : `delivered ${outcome.counts.delivered.toLocaleString('en-US')}`
  console.error(`${measure} ${row.scenario.id}: ${status} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
  return outcome
}

const rows: ScenarioOutcomes[] = SCENARIOS.filter((scenario) => !only || only.includes(scenario.id)).map((scenario) => ({ scenario }))
if (measures.includes('per-call')) {
  // Round by round, every SDK taking its turn in each (see ROUNDS).
  for (let round = 0; round < ROUNDS; round++) {
    for (const row of rows) (row.perCall ??= []).push(await runLogged('per-call', row))
  }
}
for (const row of rows) if (measures.includes('burst')) row.burst = await runLogged('burst', row)
for (const row of rows) if (measures.includes('outage')) row.outage = await runLogged('outage', row)

const report = deliveryReport(rows, describeMachine())
console.log(`\n${report}`)
if (writeDocs) writeDocsSection('delivery', report)
