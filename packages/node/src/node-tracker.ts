import { join } from 'node:path'
import {
  createTracker,
  type ActivityInput,
  type HttpSinkOptions,
  type Sink,
  type Storage,
  type Tracker,
  type TrackerDefaults,
  type TrackerOptions,
} from '@usertracking/core'
import { fileStorage } from './file-storage'
import { nodeHttpSink } from './node-http-sink'
import { contextDefaults } from './request-context'
import { installShutdownHooks, type ShutdownHooksOptions } from './shutdown-hooks'

/** Options of {@link createNodeTracker}: core's `TrackerOptions`, with Node's delivery, storage and shutdown settled. */
export interface NodeTrackerOptions extends Omit<TrackerOptions, 'sinks'> {
  /** Where activities are delivered, besides `url`. */
  sinks?: Sink[]
  /** An ingest endpoint; adds a keep-alive {@link nodeHttpSink} POSTing to it. */
  url?: string | URL
  /** Headers of the `url` sink's requests (e.g. an API key), or a function returning them. */
  headers?: HttpSinkOptions['headers']
  /**
   * Directory of the {@link fileStorage} journal; `false` keeps pending activities in memory only.
   * Ignored when `storage` is given. @default `.usertracking` in the working directory
   */
  dir?: string | false
  /**
   * How long shutdown (by a signal, at `beforeExit`, or `tracker.shutdown()` without a timeout) may
   * keep delivering, in milliseconds. @default 5000
   */
  shutdownTimeoutMs?: number
  /**
   * Flush on SIGTERM / SIGINT / `beforeExit` (see {@link installShutdownHooks}); `false` leaves
   * shutdown to you. @default true
   */
  shutdownHooks?: boolean | Pick<ShutdownHooksOptions, 'signals' | 'beforeExit'>
}

/** A tracker made by {@link createNodeTracker}. */
export interface NodeTracker extends Tracker {
  /** The storage in use, if any. */
  readonly storage: Storage | undefined
  /** Removes the shutdown hooks (they also remove themselves after shutdown). */
  removeShutdownHooks(): void
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// Object.assign rather than object spread throughout: on Node 20, `{ ...a, ...b }` of two objects
// takes a slow path in V8 costing a few microseconds, more than the rest of track() together.

function mergeDefaults(own: TrackerDefaults | undefined, fromContext: TrackerDefaults | undefined): TrackerDefaults | undefined {
  if (!own) return fromContext
  if (!fromContext) return own
  const merged: TrackerDefaults = Object.assign({}, own, fromContext)
  if (isPlainObject(own.context) && isPlainObject(fromContext.context)) merged.context = Object.assign({}, own.context, fromContext.context)
  if (isPlainObject(own.metadata) && isPlainObject(fromContext.metadata)) merged.metadata = Object.assign({}, own.metadata, fromContext.metadata)
  return merged
}

/**
 * Puts `defaults` under `input` as core's tracker does (the call wins; `metadata` and `context`
 * merge key by key), except that an explicit `undefined` counts as "not given". Core's
 * `withActivity` passes `userId: undefined` when its options name no user, and core's own merge
 * would let that erase the request context's user.
 */
function applyDefaults(defaults: TrackerDefaults, input: Record<string, unknown>): ActivityInput {
  const merged: Record<string, unknown> = Object.assign({}, defaults)
  const keys = Object.keys(input)
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!
    const value = input[key]
    if (value !== undefined) merged[key] = value
  }
  if (isPlainObject(defaults.metadata) && isPlainObject(input.metadata)) merged.metadata = Object.assign({}, defaults.metadata, input.metadata)
  if (isPlainObject(defaults.context) && isPlainObject(input.context)) merged.context = Object.assign({}, defaults.context, input.context)
  return merged as ActivityInput
}

/**
 * Core's timers are unref'd so that tracking never keeps a process alive. A caller awaiting
 * `flush()` or `shutdown()` did ask to wait, though: without a ref'd handle a script whose only
 * pending work is a retry would exit under the await (exit code 13 for a top-level await).
 */
function holdProcess<T>(promise: Promise<T>): Promise<T> {
  const hold = setInterval(() => {}, 2 ** 30)
  return promise.finally(() => clearInterval(hold))
}

/**
 * `createTracker` for servers: pending activities in a crash-safe {@link fileStorage}, delivery to
 * `url` over reused connections, shutdown on SIGTERM / SIGINT / `beforeExit`, and every `track()`
 * (including those of `withActivity`) inheriting the request context of {@link runWithContext} /
 * {@link contextMiddleware}. Precedence: the call's own fields, then the request context, then
 * `defaults`.
 *
 * Unlike core's, this tracker's `flush()` and `shutdown()` keep the process alive while they are
 * awaited, so a script that ends with `await tracker.flush(5000)` really waits (during an outage,
 * a `flush()` without a timeout waits as long as retries go on).
 *
 * On platforms that freeze the process after the response (AWS Lambda, Vercel, Cloud Run with CPU
 * throttling), either `await tracker.flush()` before responding, or pass the platform's
 * `waitUntil`, which makes each `track()` deliver at once and hands the promise over.
 *
 * @param options - see {@link NodeTrackerOptions}.
 */
export function createNodeTracker(options: NodeTrackerOptions): NodeTracker {
  const { url, headers, dir, shutdownTimeoutMs = 5000, shutdownHooks = true, sinks = [], defaults, ...rest } = options
  const allSinks = url === undefined ? [...sinks] : [nodeHttpSink({ url, headers }), ...sinks]
  if (allSinks.length === 0) {
    throw new TypeError('[usertracking] [node] createNodeTracker needs options.url or options.sinks.')
  }
  const storage = rest.storage ?? (dir === false ? undefined : fileStorage({ dir: dir ?? join(process.cwd(), '.usertracking') }))
  // The defaults are merged here rather than through core's `defaults` option; see applyDefaults.
  const tracker = createTracker({ ...rest, sinks: allSinks, storage })
  const removeShutdownHooks = shutdownHooks
    ? installShutdownHooks(tracker, { ...(shutdownHooks === true ? {} : shutdownHooks), timeoutMs: shutdownTimeoutMs })
    : () => {}
  return {
    ...tracker,
    storage,
    track(input) {
      let own: TrackerDefaults | undefined
      try {
        own = typeof defaults === 'function' ? defaults() : defaults
      } catch {
        // A throwing defaults function costs its defaults, never the activity or the caller.
      }
      let prepared = input
      try {
        const merged = mergeDefaults(own, contextDefaults())
        if (merged && isPlainObject(input)) prepared = applyDefaults(merged, input)
      } catch {
        // An input whose getters throw goes to core as it is, which reports it.
      }
      return tracker.track(prepared)
    },
    flush: (timeoutMs) => holdProcess(tracker.flush(timeoutMs)),
    shutdown(shutdownOptions) {
      const done = holdProcess(tracker.shutdown({ timeoutMs: shutdownOptions?.timeoutMs ?? shutdownTimeoutMs }))
      void done.then(removeShutdownHooks)
      return done
    },
    removeShutdownHooks,
  }
}
