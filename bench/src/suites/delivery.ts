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
import type { Measure } from '../delivery/protocol'
import { deliveryReport, type ScenarioOutcomes } from '../delivery/report'
import { runMeasure } from '../delivery/run-measure'
import { SCENARIOS } from '../delivery/scenarios'

const MEASURES: Measure[] = ['per-call', 'burst', 'outage']
const KEYS = { 'per-call': 'perCall', burst: 'burst', outage: 'outage' } as const

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

const rows: ScenarioOutcomes[] = SCENARIOS.filter((scenario) => !only || only.includes(scenario.id)).map((scenario) => ({ scenario }))
for (const measure of measures) {
  for (const row of rows) {
    const started = Date.now()
    const outcome = await runMeasure(measure, row.scenario)
    row[KEYS[measure]] = outcome
    const status = outcome.error ? `failed: ${outcome.error}` : `delivered ${outcome.counts.delivered.toLocaleString('en-US')}`
    console.error(`${measure} ${row.scenario.id}: ${status} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
  }
}

const report = deliveryReport(rows, describeMachine())
console.log(`\n${report}`)
if (writeDocs) writeDocsSection('delivery', report)
