/**
 * The measures' constants and what a measuring child process (`child.ts`) and the delivery suite
 * say to each other over IPC.
 */

/** Epoch milliseconds with the sub-millisecond precision of `performance.now()`, comparable across processes. */
export const epochMs = (): number => performance.timeOrigin + performance.now()

/** The three measures: `track()` cost, a burst, and tracking through a collector outage. */
export type Measure = 'per-call' | 'burst' | 'outage'

/** `track()` calls per round of the per-call measure. */
export const ROUND_CALLS = 10_000
/**
 * Timed rounds of the per-call measure; the median is reported. Each round is a fresh process (an
 * untimed warm-up round, then the timed one), and the SDKs take turns round by round, so a burst of
 * load from a neighbour on a shared machine lands on one round of several SDKs, not on one SDK.
 */
export const ROUNDS = 5
/** How long the collector's outage lasts, in milliseconds: the events are tracked over this time. */
export const OUTAGE_MS = 5000
/** Equal slices the outage's events are tracked in, one every `OUTAGE_MS / OUTAGE_SLICES`. */
export const OUTAGE_SLICES = 50
/**
 * The longest an SDK's flush may take after a burst or an outage, in milliseconds: what it has not
 * delivered by then is lost (the tables say when a flush was cut off).
 */
export const DRAIN_TIMEOUT_MS = 120_000
/** The longest an SDK's close may take after its flush, in milliseconds. */
export const CLOSE_TIMEOUT_MS = 10_000
/** How often peak RSS is sampled while delivering, in milliseconds. */
export const RSS_SAMPLE_MS = 10

/** What one round of the per-call measure reports. */
export interface PerCallResult {
  /** The synchronous `track()` call, in nanoseconds. */
  callNs: number
  /** The same plus the promise jobs the calls queued (run before the next event-loop turn), in nanoseconds. */
  callWithMicrotasksNs: number
}

/** What the burst and outage measures report; the collector's counts complete them. */
export interface DeliveryResult {
  /** Epoch milliseconds of the first `track()`. */
  startedAt: number
  /** Epoch milliseconds when the last `track()` returned. */
  trackedAt: number
  /** Largest RSS seen minus RSS before the first `track()`, in bytes. */
  rssGrowthBytes: number
  /** Worst event-loop delay from the last `track()` until the SDK was closed, in milliseconds. */
  maxLoopDelayMs: number
  /** Whether the SDK's flush was still running at `DRAIN_TIMEOUT_MS`. */
  flushCutOff: boolean
}

/** A message from the child to the suite. */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'tracked' }
  | { type: 'result'; result: PerCallResult | DeliveryResult }
  | { type: 'error'; message: string }
