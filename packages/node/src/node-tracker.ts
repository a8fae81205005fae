import { join } from 'node:path'
import {
  createTracker,
  mergeActivityDefaults,
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

/**
 * `createTracker` for servers: pending activities in a crash-safe {@link fileStorage}, delivery to
 * `url` over reused connections, shutdown on SIGTERM / SIGINT / `beforeExit`, and every `track()`
 * (including those of `withActivity`) inheriting the request context of {@link runWithContext} /
 * {@link contextMiddleware}. Precedence: the call's own fields, then the request context, then
 * `defaults`.
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
  const tracker = createTracker({
    ...rest,
    sinks: allSinks,
    storage,
    defaults: () => {
      let own: TrackerDefaults | undefined
      try {
        own = typeof defaults === 'function' ? defaults() : defaults
      } catch {
        // A throwing defaults function costs its own defaults, not the request context's.
      }
      const fromContext = contextDefaults()
      // The request context over the tracker's own defaults.
      return own && fromContext ? mergeActivityDefaults(own, fromContext) : (fromContext ?? own)
    },
  })
  const removeShutdownHooks = shutdownHooks
    ? installShutdownHooks(tracker, { ...(shutdownHooks === true ? {} : shutdownHooks), timeoutMs: shutdownTimeoutMs })
    : () => {}
  return {
    ...tracker,
    storage,
    shutdown(shutdownOptions) {
      const done = tracker.shutdown({ timeoutMs: shutdownOptions?.timeoutMs ?? shutdownTimeoutMs })
      void done.then(removeShutdownHooks)
      return done
    },
    removeShutdownHooks,
  }
}
