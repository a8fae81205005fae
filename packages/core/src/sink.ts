import type { Activity } from './activity'

/** What a sink's `write` receives besides the batch. */
export interface SinkWriteOptions {
  /** Aborted when the tracker gives up on this write (its timeout, or shutdown). */
  signal: AbortSignal
}

/** One activity a sink refused while accepting the rest of its batch. */
export interface RejectedActivity {
  /** The refused activity's id. */
  id: string
  /** Why it was refused, as the backend said it. */
  error: string
}

/**
 * The outcome of one `Sink.write`. Expected failures are values, not exceptions; a sink that
 * throws is treated as `retryable` and its error is reported through `onError`.
 *
 * - `success`: the batch is stored. Ids the backend already held count as success (that is what makes
 *   retries safe). `rejected` lists activities the backend refused for their content while storing
 *   the others; the tracker drops those with the reason `rejected`.
 * - `retryable`: nothing (or nothing known) was stored; send the same batch again after backing off,
 *   or after `retryInMs` when the backend said (`Retry-After`).
 * - `too_large`: the backend refused the size of the batch (HTTP 413); the tracker halves it and tries
 *   again at once. A single activity that is too large is dropped.
 * - `failure`: the batch can never be stored as it is; it is dropped with the reason `permanent_failure`.
 */
export type SinkResult =
  | { type: 'success'; rejected?: RejectedActivity[] }
  | { type: 'retryable'; retryInMs?: number; error?: unknown }
  | { type: 'too_large'; error?: unknown }
  | { type: 'failure'; error: unknown }

/**
 * Where a tracker delivers activities. A sink writes one batch at a time (the tracker never has two
 * writes in flight on one sink) and must be idempotent by `Activity.id`: delivery is at-least-once.
 */
export interface Sink {
  /** Names the sink in logs, errors and `stats()`. */
  readonly name: string
  /** Stores a batch, and says how it went. */
  write(batch: Activity[], options: SinkWriteOptions): Promise<SinkResult>
  /** Releases connections; called by `tracker.shutdown()`. */
  close?(): Promise<void>
}
