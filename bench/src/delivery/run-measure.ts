/**
 * Runs one measure of one scenario: a fresh collector, the SDK in a child process (`child.ts`), the
 * outage switched on and off around the child's tracking, a hard deadline, and the collector's
 * counts once the child is done.
 */
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCollector, type CollectorCounts } from './collector'
import { CLOSE_TIMEOUT_MS, DRAIN_TIMEOUT_MS, OUTAGE_MS, type ChildMessage, type DeliveryResult, type Measure, type PerCallResult } from './protocol'
import { EVENTS, type Scenario } from './scenarios'

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'child.ts')
/** Time for requests already on the wire when the child exits to be counted, in milliseconds. */
const SETTLE_MS = 200
/** The most stderr kept from a child, for the error report. */
const STDERR_TAIL = 4000

/**
 * Hard deadline of each child, in milliseconds: its own bounds, plus slack for start-up and for an
 * SDK whose synchronous work holds up its own timers (Segment's 100k `track()` calls take seconds
 * of CPU on a loaded machine).
 */
const SLACK_MS = 120_000
const DEADLINE_MS: Record<Measure, number> = {
  'per-call': 2 * DRAIN_TIMEOUT_MS + CLOSE_TIMEOUT_MS + SLACK_MS,
  burst: DRAIN_TIMEOUT_MS + CLOSE_TIMEOUT_MS + SLACK_MS,
  outage: OUTAGE_MS + DRAIN_TIMEOUT_MS + CLOSE_TIMEOUT_MS + SLACK_MS,
}

/** The outcome of one measure of one scenario. */
export interface Outcome {
  /** Absent when the child failed or missed its deadline (then `error` says which). */
  result?: PerCallResult | DeliveryResult
  counts: CollectorCounts
  error?: string
}

/**
 * @param measure - which measure the child runs.
 * @param scenario - which SDK at which settings.
 */
export async function runMeasure(measure: Measure, scenario: Scenario): Promise<Outcome> {
  const collector = await startCollector(EVENTS)
  const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', CHILD, measure, scenario.id, collector.origin], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL)
  })
  const outcome = await new Promise<Omit<Outcome, 'counts'>>((resolve) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL')
      resolve({ error: `no result within ${DEADLINE_MS[measure] / 1000} s` })
    }, DEADLINE_MS[measure])
    const finish = (value: Omit<Outcome, 'counts'>) => {
      clearTimeout(deadline)
      collector.outage = false
      resolve(value)
    }
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') {
        collector.outage = measure === 'outage'
        child.send('go')
      } else if (message.type === 'tracked') {
        // The outage lasts from the first track() until the last one returned (at least OUTAGE_MS).
        collector.outage = false
      } else if (message.type === 'result') finish({ result: message.result })
      else finish({ error: message.message })
    })
    child.on('error', (error) => finish({ error: error.message }))
    child.on('exit', (code, signal) => finish({ error: `exited with ${signal ?? code} before its result\n${stderr}` }))
  })
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  const counts = collector.counts()
  await collector.close()
  return { ...outcome, counts }
}
