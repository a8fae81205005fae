/**
 * Every SDK of the delivery suite, at its defaults and tuned, behind one small interface so the
 * measures run the same code for each. Every SDK sends the same event: user `user-<i % 1000>`,
 * name `job_match`, properties `{ i, jobTitle: 'Data Engineer' }` — `i` is how the collector
 * counts it. usertracking is driven only through its public API.
 *
 * "Tuned" is what a user who read each SDK's docs would set for a 100k burst: a queue that holds
 * the burst (usertracking's default byte bounds already do) and larger batches; nothing else changes.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TRACKER_DEFAULTS } from '@usertracking/core'

/** Events per burst and per outage. */
export const EVENTS = 100_000

/** One SDK under test, started and talking to a collector. */
export interface BenchClient {
  /** Tracks event number `index`; synchronous, as each SDK's own call is. */
  track(index: number): void
  /** Delivers everything tracked so far, through the SDK's own flush; may give up at the deadline. */
  flush(timeoutMs: number): Promise<void>
  /** Flushes and releases everything the SDK holds (timers, sockets, files). */
  close(timeoutMs: number): Promise<void>
}

/** One row of every table: an SDK at one group of settings. */
export interface Scenario {
  /** Stable id, used on the command line (`--only`) and between processes. */
  id: string
  /** The SDK as the tables name it. */
  sdk: string
  tuned: boolean
  /** The settings in words, defaults spelled out. */
  settings: string
  /** Whether this row is usertracking (ratios compare these rows with the best of the others). */
  ours: boolean
  /** Starts the SDK against the collector at `origin` (`http://127.0.0.1:<port>`). */
  start(origin: string): Promise<BenchClient>
}

/**
 * usertracking's default batch and queue bounds named in `names`, as the installed core states
 * them (byte sizes in MiB, unbounded ones left out), so the rows stay true while defaults change.
 */
function usertrackingDefaults(names: string[]): string {
  const defaults = TRACKER_DEFAULTS as Record<string, number>
  return names
    .filter((name) => Number.isFinite(defaults[name]))
    .map((name) => `${name} ${name.endsWith('Bytes') ? `${defaults[name]! / 2 ** 20} MiB` : defaults[name]!.toLocaleString('en-US')}`)
    .join(', ')
}

const userId = (index: number) => `user-${index % 1000}`
const properties = (index: number) => ({ i: index, jobTitle: 'Data Engineer' })

/** Resolves when `promise` settles or after `timeoutMs`, whichever is first; never rejects. */
function settleWithin(promise: Promise<unknown>, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs)
    promise.then(
      () => (clearTimeout(timer), resolve()),
      () => (clearTimeout(timer), resolve()),
    )
  })
}

async function usertracking(origin: string, tuned: boolean): Promise<BenchClient> {
  const { createTracker, httpSink } = await import('@usertracking/core')
  const tracker = createTracker({
    sinks: [httpSink({ url: `${origin}/api/activity` })],
    ...(tuned ? { batchSize: 1000 } : {}),
  })
  return {
    track: (index) => tracker.track({ userId: userId(index), activityType: 'job_match', metadata: properties(index) }),
    flush: (timeoutMs) => settleWithin(tracker.flush(timeoutMs), timeoutMs),
    close: (timeoutMs) => settleWithin(tracker.shutdown({ timeoutMs }), timeoutMs),
  }
}

async function usertrackingNode(origin: string, tuned: boolean): Promise<BenchClient> {
  const { createNodeTracker } = await import('@usertracking/node')
  // The default journal directory is `.usertracking` in the working directory; a fresh one per
  // run keeps runs apart and is removed after.
  const dir = mkdtempSync(join(tmpdir(), 'usertracking-bench-journal-'))
  const tracker = createNodeTracker({
    url: `${origin}/api/activity`,
    dir,
    ...(tuned ? { batchSize: 1000 } : {}),
  })
  return {
    track: (index) => tracker.track({ userId: userId(index), activityType: 'job_match', metadata: properties(index) }),
    flush: (timeoutMs) => settleWithin(tracker.flush(timeoutMs), timeoutMs),
    close: async (timeoutMs) => {
      await settleWithin(tracker.shutdown({ timeoutMs }), timeoutMs)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function openTelemetry(origin: string, tuned: boolean): Promise<BenchClient> {
  const { LoggerProvider, BatchLogRecordProcessor } = await import('@opentelemetry/sdk-logs')
  const { OTLPLogExporter } = await import('@opentelemetry/exporter-logs-otlp-http')
  const processor = new BatchLogRecordProcessor({
    exporter: new OTLPLogExporter({ url: `${origin}/v1/logs` }),
    ...(tuned ? { maxQueueSize: EVENTS, maxExportBatchSize: 1000 } : {}),
  })
  const provider = new LoggerProvider({ processors: [processor] })
  const logger = provider.getLogger('bench')
  return {
    track: (index) => logger.emit({ body: 'job_match', attributes: { 'user.id': userId(index), ...properties(index) } }),
    flush: (timeoutMs) => settleWithin(provider.forceFlush(), timeoutMs),
    close: (timeoutMs) => settleWithin(provider.shutdown(), timeoutMs),
  }
}

async function amplitude(origin: string, tuned: boolean): Promise<BenchClient> {
  const { createInstance } = await import('@amplitude/analytics-node')
  const client = createInstance()
  await client.init('bench-api-key', { serverUrl: `${origin}/2/httpapi`, ...(tuned ? { flushQueueSize: 1000 } : {}) }).promise
  return {
    track: (index) => void client.track('job_match', properties(index), { user_id: userId(index) }),
    flush: (timeoutMs) => settleWithin(client.flush().promise, timeoutMs),
    // Amplitude's Node client has no shutdown: a flush is all it offers.
    close: (timeoutMs) => settleWithin(client.flush().promise, timeoutMs),
  }
}

async function posthog(origin: string, tuned: boolean): Promise<BenchClient> {
  const { PostHog } = await import('posthog-node')
  const client = new PostHog('phc_bench', {
    host: origin,
    ...(tuned ? { flushAt: 1000, maxBatchSize: 1000, maxQueueSize: EVENTS } : {}),
  })
  client.on('error', () => {})
  return {
    track: (index) => client.capture({ distinctId: userId(index), event: 'job_match', properties: properties(index) }),
    flush: (timeoutMs) => settleWithin(client.flush(), timeoutMs),
    close: (timeoutMs) => settleWithin(client.shutdown(timeoutMs), timeoutMs),
  }
}

async function segment(origin: string, tuned: boolean): Promise<BenchClient> {
  const { Analytics } = await import('@segment/analytics-node')
  const analytics = new Analytics({ writeKey: 'bench', host: origin, ...(tuned ? { flushAt: 1000 } : {}) })
  analytics.on('error', () => {})
  return {
    track: (index) => analytics.track({ userId: userId(index), event: 'job_match', properties: properties(index) }),
    flush: (timeoutMs) => settleWithin(analytics.flush({ timeout: timeoutMs }), timeoutMs),
    close: (timeoutMs) => settleWithin(analytics.closeAndFlush({ timeout: timeoutMs }), timeoutMs),
  }
}

/** Every row, defaults first (the order of every table). */
export const SCENARIOS: Scenario[] = [
  { id: 'usertracking', sdk: 'usertracking `createTracker` + `httpSink`', tuned: false, ours: true, settings: `${usertrackingDefaults(['batchSize', 'maxBatchBytes', 'maxQueueSize', 'maxQueueBytes'])}, memory only`, start: (origin) => usertracking(origin, false) },
  { id: 'usertracking-node', sdk: 'usertracking `createNodeTracker` (file journal)', tuned: false, ours: true, settings: `${usertrackingDefaults(['batchSize', 'maxBatchBytes', 'maxStorageBytes'])}, file journal (memory holds a window of the queue)`, start: (origin) => usertrackingNode(origin, false) },
  { id: 'otel', sdk: 'OpenTelemetry logs (BatchLogRecordProcessor + OTLP/HTTP)', tuned: false, ours: false, settings: 'maxExportBatchSize 512, maxQueueSize 2,048', start: (origin) => openTelemetry(origin, false) },
  { id: 'amplitude', sdk: '@amplitude/analytics-node', tuned: false, ours: false, settings: 'flushQueueSize 200, queue unbounded', start: (origin) => amplitude(origin, false) },
  { id: 'posthog', sdk: 'posthog-node', tuned: false, ours: false, settings: 'flushAt 20, maxBatchSize 100, maxQueueSize 1,000, gzip', start: (origin) => posthog(origin, false) },
  { id: 'segment', sdk: '@segment/analytics-node', tuned: false, ours: false, settings: 'flushAt 15, queue unbounded', start: (origin) => segment(origin, false) },
  { id: 'usertracking-tuned', sdk: 'usertracking `createTracker` + `httpSink`', tuned: true, ours: true, settings: 'batchSize 1,000, other bounds at their defaults', start: (origin) => usertracking(origin, true) },
  { id: 'usertracking-node-tuned', sdk: 'usertracking `createNodeTracker` (file journal)', tuned: true, ours: true, settings: 'batchSize 1,000, other bounds at their defaults', start: (origin) => usertrackingNode(origin, true) },
  { id: 'otel-tuned', sdk: 'OpenTelemetry logs (BatchLogRecordProcessor + OTLP/HTTP)', tuned: true, ours: false, settings: 'maxExportBatchSize 1,000, maxQueueSize 100,000', start: (origin) => openTelemetry(origin, true) },
  { id: 'amplitude-tuned', sdk: '@amplitude/analytics-node', tuned: true, ours: false, settings: 'flushQueueSize 1,000', start: (origin) => amplitude(origin, true) },
  { id: 'posthog-tuned', sdk: 'posthog-node', tuned: true, ours: false, settings: 'flushAt 1,000, maxBatchSize 1,000, maxQueueSize 100,000', start: (origin) => posthog(origin, true) },
  { id: 'segment-tuned', sdk: '@segment/analytics-node', tuned: true, ours: false, settings: 'flushAt 1,000 (its batches stop at 480 KB)', start: (origin) => segment(origin, true) },
]
