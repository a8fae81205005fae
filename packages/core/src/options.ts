import type { Activity, ActivityInput } from './activity'
import type { Logger } from './logger'
import type { Sink } from './sink'
import type { Storage } from './storage'

/**
 * Why activities were dropped. Every drop is counted in `stats().droppedByReason` and reported to
 * `onDrop` and `'dropped'` listeners.
 *
 * - `invalid`: `track()` got something that is not an activity (see the debug log for the field paths).
 * - `filtered`: `beforeSend` returned `null`.
 * - `before_send_error`: `beforeSend` threw.
 * - `queue_overflow`: without a paging storage, a sink's queue held `maxQueueBytes` (or
 *   `maxQueueSize`) and the oldest made room; with one, the storage held `maxStorageBytes` and the
 *   newest was refused.
 * - `permanent_failure`: the sink said the batch can never be stored (e.g. HTTP 400).
 * - `rejected`: the sink stored the batch but refused these activities for their content.
 * - `too_large`: a single activity was too large for the sink (HTTP 413 for a batch of one).
 * - `retries_exhausted`: `maxRetries` or `maxRetryTimeMs` ran out.
 * - `shutdown`: `track()` after `shutdown()`, or still undelivered when `shutdown()` timed out (a
 *   persistent storage still holds the latter, so the next tracker over it delivers them).
 */
export type DropReason =
  | 'invalid'
  | 'filtered'
  | 'before_send_error'
  | 'queue_overflow'
  | 'permanent_failure'
  | 'rejected'
  | 'too_large'
  | 'retries_exhausted'
  | 'shutdown'

/** Extra facts about a drop: the error behind it, and for `invalid`, what was passed. */
export interface DropDetail {
  /** The sink that dropped them, for delivery drops. */
  sink?: string
  /** Why, as an error (a `ValidationError` with field paths for `invalid`). */
  error?: unknown
  /** The rejected input, for `invalid`, `filtered` and `before_send_error`. */
  input?: unknown
}

/** Fields merged under every tracked activity; the call's own fields win, `metadata` and `context` merge key by key. */
export type TrackerDefaults = Partial<ActivityInput>

/** Options of `createTracker`. Every default is here, next to the option, with the reason for it. */
export interface TrackerOptions {
  /** Where activities are delivered. Each sink has its own queue, batching and retry state. */
  sinks: Sink[]
  /**
   * Persists queued activities so they survive a restart; a new tracker over the same storage
   * delivers what was pending. @default none — queued activities live in memory only.
   */
  storage?: Storage
  /**
   * How long after a `track()` storage writes are gathered into one write, in milliseconds. `0`
   * gathers one synchronous burst of `track()` calls (one microtask). Activities tracked within this
   * window are the ones a crash can lose. @default 0
   */
  persistIntervalMs?: number
  /**
   * Most activities per `sink.write`. Larger batches mean fewer requests; `maxBatchBytes` bounds
   * the body whatever the count. @default 500
   */
  batchSize?: number
  /**
   * Most bytes of JSON per `sink.write` (estimated while `track()` validates; a single larger
   * activity still goes alone). Servers refuse large bodies (the server package at 1 MB, Express at
   * 100 KB by default); after an HTTP 413, or a reset while sending a large body, the sink's limit
   * is halved and grows back gradually, doubling after every 8 writes that succeed.
   * @default 524288 (512 KiB) — half the server package's `maxBodyBytes`.
   */
  maxBatchBytes?: number
  /**
   * The longest an activity waits in the queue before its batch goes out, in milliseconds, however
   * busy tracking is. @default 5000
   */
  flushInterval?: number
  /**
   * A batch goes out this long after the last `track()`, in milliseconds, so a burst of clicks
   * becomes one request while a lone event is not held for the whole `flushInterval`. @default 500
   */
  debounceTime?: number
  /**
   * Most activities held in memory per sink. Without a paging storage the oldest is dropped past it
   * (`queue_overflow`); with one (the Node tracker's file journal) what does not fit waits in storage.
   * @default Infinity — `maxQueueBytes` bounds memory.
   */
  maxQueueSize?: number
  /**
   * Most bytes (of JSON, estimated) held in memory per sink. Without a paging storage the oldest is
   * dropped past it (`queue_overflow`). With a paging storage (one with `spill` and `page`, such as
   * the Node tracker's file journal) memory holds only this window of the queue: the rest stays in
   * storage and is paged back in as delivery makes room, so nothing is dropped until
   * `maxStorageBytes`. @default 33554432 (32 MiB; about 180,000 typical activities, around 50 MB of
   * heap) without a paging storage, 2097152 (2 MiB) with one.
   */
  maxQueueBytes?: number
  /**
   * With a paging storage: most bytes (of JSON, estimated) it may hold. Past it, new activities are
   * dropped (`queue_overflow`) rather than filling the disk. Ignored by other storages, which
   * `maxQueueBytes` bounds. @default 268435456 (256 MiB)
   */
  maxStorageBytes?: number
  /** Retries of one batch after retryable failures before it is dropped (`retries_exhausted`). @default 10 */
  maxRetries?: number
  /** Upper bound of the first retry's random delay, in milliseconds; it doubles per retry. @default 1000 */
  retryBaseDelayMs?: number
  /** Upper bound of any retry's delay, in milliseconds (`Retry-After` may ask for longer). @default 60000 */
  retryMaxDelayMs?: number
  /**
   * The longest a batch may spend being retried, in milliseconds, before it is dropped
   * (`retries_exhausted`). @default 3600000 — an hour's outage costs nothing.
   */
  maxRetryTimeMs?: number
  /**
   * How long one `sink.write` may take before it is aborted and retried, in milliseconds; guards
   * against a request that never answers. @default 30000
   */
  writeTimeoutMs?: number
  /** Fields merged under every activity, or a function that returns them (called per `track()`). */
  defaults?: TrackerDefaults | (() => TrackerDefaults | undefined)
  /** Last look at each activity before it is queued; return `null` to drop it (`filtered`). */
  beforeSend?: (activity: Activity) => Activity | null | undefined
  /** `true` logs to the console, a {@link Logger} receives the log. @default false */
  debug?: boolean | Logger
  /**
   * Warns, without `debug`, of every drop and background error: at most one warning per drop
   * reason (and per error kind) per minute, counting the ones it held back. They go to the `debug`
   * logger when it is one, else to `console.warn`. `filtered` drops (your `beforeSend`) never warn.
   * `createCanonicalTracker` (the lean tracker for bundles) has no such warnings. @default true
   */
  warnings?: boolean
  /** Receives every background error (sink, storage, listener). It may throw; that is swallowed. */
  onError?: (error: unknown) => void
  /** Receives every drop with its reason. */
  onDrop?: (reason: DropReason, activities: Activity[], detail: DropDetail) => void
  /**
   * Hands pending delivery to a platform that freezes the process after the response (Vercel's
   * `waitUntil`, Cloudflare's `ctx.waitUntil`). When set, each synchronous burst of `track()` calls
   * starts a delivery of its own at once, instead of waiting for the batch timers, and hands it over.
   * `createCanonicalTracker` (the lean tracker for bundles) ignores it.
   */
  waitUntil?: (promise: Promise<unknown>) => void
  /** Largest `metadata` / `context` accepted, in bytes of UTF-8 JSON. @default 32768 */
  maxMetadataBytes?: number
}

/** The defaults of {@link TrackerOptions}. */
export const TRACKER_DEFAULTS = {
  persistIntervalMs: 0,
  batchSize: 500,
  maxBatchBytes: 512 * 1024,
  flushInterval: 5000,
  debounceTime: 500,
  maxQueueSize: Number.POSITIVE_INFINITY,
  maxQueueBytes: 32 * 1024 * 1024,
  maxStorageBytes: 256 * 1024 * 1024,
  maxRetries: 10,
  retryBaseDelayMs: 1000,
  retryMaxDelayMs: 60_000,
  maxRetryTimeMs: 3_600_000,
  writeTimeoutMs: 30_000,
  maxMetadataBytes: 32 * 1024,
} as const

/**
 * `maxQueueBytes` with a paging storage: memory holds this window, the storage the rest. About
 * 10,000 typical activities, twenty batches: enough to keep a sink busy while pages are read back,
 * and a 100k burst costs 12 MB less peak RSS than with 8 MiB (`pnpm bench track`).
 */
export const PAGED_QUEUE_BYTES = 2 * 1024 * 1024

type NumericOption = keyof typeof TRACKER_DEFAULTS

/** The options with every default filled in, after validation. */
export type ResolvedTrackerOptions = TrackerOptions & Required<Pick<TrackerOptions, NumericOption>>

// Every numeric option may be 0 but these.
const MINIMUMS: Partial<Record<NumericOption, number>> = {
  batchSize: 1,
  maxBatchBytes: 1,
  maxQueueSize: 1,
  maxQueueBytes: 1,
  maxStorageBytes: 1,
  writeTimeoutMs: 1,
  maxMetadataBytes: 2,
}

/**
 * Fills in defaults and checks every option (a pager applies its own `maxQueueBytes` default, `PAGED_QUEUE_BYTES`), throwing a `TypeError` that names the field. Called
 * once by `createTracker`: a misconfiguration is a programming error and should fail loudly at
 * start-up, unlike a bad `track()` call, which must never break the host app.
 */
export function resolveTrackerOptions(options: TrackerOptions): ResolvedTrackerOptions {
  const sinks = options?.sinks
  if (!Array.isArray(sinks) || sinks.length === 0) throw new TypeError('[usertracking] options.sinks must be a non-empty array.')
  sinks.forEach((sink, index) => {
    if (typeof sink?.write !== 'function' || typeof sink.name !== 'string') {
      throw new TypeError(`[usertracking] options.sinks[${index}] must be a sink with a name and write().`)
    }
  })
  const resolved = { ...options } as ResolvedTrackerOptions
  for (const key of Object.keys(TRACKER_DEFAULTS) as NumericOption[]) {
    const value = options[key] ?? TRACKER_DEFAULTS[key]
    const minimum = MINIMUMS[key] ?? 0
    // NaN fails the comparison too.
    if (!(typeof value === 'number' && value >= minimum)) {
      throw new TypeError(`[usertracking] options.${key} must be a number of at least ${minimum}; got ${String(value)}.`)
    }
    resolved[key] = value
  }
  for (const key of ['beforeSend', 'onError', 'onDrop', 'waitUntil'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') {
      throw new TypeError(`[usertracking] options.${key} must be a function.`)
    }
  }
  return resolved
}
