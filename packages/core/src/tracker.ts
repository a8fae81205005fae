import type { Activity, ActivityInput } from './activity'
import { StorageError, SinkError, ValidationError } from './errors'
import { createLogger } from './logger'
import { createWarnings } from './warnings'
import { isPlainObject, normalizeActivityInto, type NormalizeOptions, type NormalizeSlot } from './normalize'
import { normalizeCanonicalActivity } from './normalize-canonical'
import { resolveTrackerOptions, type DropDetail, type DropReason, type TrackerDefaults, type TrackerOptions } from './options'
import { createSinkQueue, type Entry, type SinkQueue } from './sink-queue'
import { unref } from './unref'
import { createHandOver } from './hand-over'
import { createHold } from './hold'
import { createPager } from './paging'
import { createWriteAhead, type PagerFactory } from './write-ahead'

/** Counters of one tracker since it was created. */
export interface TrackerStats {
  /** Activities accepted and not yet settled by every sink (in memory or waiting in a paging storage). */
  queued: number
  /** Activities acknowledged by a sink (counted once per sink). */
  sent: number
  /** Activities a sink gave up on: `permanent_failure`, `rejected`, `too_large`, `retries_exhausted` (also in `dropped`). */
  failed: number
  /** Activities dropped for any reason (per sink for delivery drops). */
  dropped: number
  /** Activities sent again after a retryable failure, counted per retry. */
  retried: number
  /** `dropped`, by reason. */
  droppedByReason: Partial<Record<DropReason, number>>
}

/** Events a tracker emits; see {@link Tracker.on}. */
export interface TrackerEvents {
  /** A sink acknowledged these activities. */
  sent: (activities: Activity[], sink: string) => void
  /** These activities were dropped. */
  dropped: (reason: DropReason, activities: Activity[], detail: DropDetail) => void
  /** A background error (sink, storage, a listener). */
  error: (error: unknown) => void
}

/** Options of {@link Tracker.shutdown}. */
export interface ShutdownOptions {
  /** How long to keep delivering before giving up, in milliseconds. @default 10000 */
  timeoutMs?: number
}

/** Options of {@link Tracker.flush} when asking for a {@link FlushReport}. */
export interface FlushOptions {
  /** How long to wait, in milliseconds. @default no limit */
  timeoutMs?: number
}

/** How a flush went: what it waited for, delivered or not. */
export interface FlushReport {
  /** Everything the flush waited for reached every sink. */
  delivered: boolean
  /** It stopped waiting at `timeoutMs` (or at shutdown) with activities still pending. */
  timedOut: boolean
  /** Activities it waited for that were dropped instead, by reason (per sink, like `stats()`). */
  dropped: Partial<Record<DropReason, number>>
}

/** A tracker: queues activities and delivers them to its sinks in the background. */
export interface Tracker {
  /**
   * Queues one activity and returns its id, or `undefined` if it was dropped (invalid, filtered, or
   * after shutdown). Synchronous and never throws; the reason for a drop goes to `stats()`, `onDrop`
   * and a warning.
   */
  track(input: ActivityInput): string | undefined
  /**
   * Sends everything queued so far (every activity not yet settled when it is called) and waits
   * until each of it is delivered or given up on, or until `timeoutMs` passes. Resolves `true` only
   * when all of it reached every sink: `false` when something was dropped instead (a permanent
   * failure, exhausted retries, …) or the time ran out. Never rejects.
   */
  flush(timeoutMs?: number): Promise<boolean>
  /** The same flush, resolving with a {@link FlushReport}: what was dropped and why, or whether it timed out. */
  flush(options: FlushOptions): Promise<FlushReport>
  /**
   * Flushes (within `timeoutMs`), then stops timers, aborts what is still in flight and closes the
   * sinks and storage. Later `track()` calls are dropped with the reason `shutdown`. Safe to call
   * more than once; every call returns the same promise. Resolves `true` when everything was delivered.
   */
  shutdown(options?: ShutdownOptions): Promise<boolean>
  /** A snapshot of the counters. */
  stats(): TrackerStats
  /**
   * Stops starting new writes (writes in flight finish) without spending retries, e.g. while the
   * device is offline. Tracking goes on; the queue keeps its bounds.
   */
  pause(): void
  /** Starts delivering again after {@link Tracker.pause}. */
  resume(): void
  /**
   * Listens for `sent`, `dropped` or `error`; returns the function that stops listening. Any other
   * event name throws a `TypeError` naming the valid ones (a misspelt name is a programming error).
   */
  on<E extends keyof TrackerEvents>(event: E, listener: TrackerEvents[E]): () => void
}

interface FlushWaiter {
  /** The seq range it waits for: what was unsettled when it was called. */
  from: number
  target: number
  dropped: Partial<Record<DropReason, number>>
  resolve: (timedOut: boolean) => void
}

/**
 * What {@link createTracker} adds to the lean tracker of {@link createCanonicalTracker}: paging,
 * warnings without `debug`, delivery handed to a platform's `waitUntil`, and the process held
 * while a flush is awaited. Passed in, so that a bundle that never uses them leaves them out.
 */
interface TrackerParts {
  pager?: PagerFactory
  warnings?: typeof createWarnings
  handOver?: typeof createHandOver
  hold?: typeof createHold
}

/**
 * Puts `defaults` under `input`: the input's own fields win, but an explicit `undefined` counts as
 * not given (withActivity passes `userId: undefined` when its options name no user, and that must
 * not erase a default user); `metadata` and `context` merge key by key. Object.assign and a key loop
 * rather than object spread, which takes a slow path on Node 20 costing microseconds.
 *
 * @param defaults - the fields underneath.
 * @param input - the fields on top.
 */
export function mergeActivityDefaults<T extends Partial<ActivityInput>>(defaults: Partial<ActivityInput>, input: T): T {
  const merged: Record<string, unknown> = Object.assign({}, defaults)
  const source = input as Record<string, unknown>
  const keys = Object.keys(source)
  for (let index = 0; index < keys.length; index++) {
    const value = source[keys[index]!]
    if (value !== undefined) merged[keys[index]!] = value
  }
  if (isPlainObject(defaults.metadata) && isPlainObject(input.metadata)) {
    merged.metadata = Object.assign({}, defaults.metadata, input.metadata)
  }
  if (isPlainObject(defaults.context) && isPlainObject(input.context)) {
    merged.context = Object.assign({}, defaults.context, input.context)
  }
  return merged as T
}

/**
 * Creates a tracker that delivers to `options.sinks`.
 *
 * The path of one activity: `track()` validates and normalises it (`beforeSend` last), the
 * write-ahead layer stores it (or, with a paging storage whose memory window is full, spills it to
 * storage to be paged back later), each sink's queue batches it by count, bytes, `debounceTime` and
 * `flushInterval`, and delivers it with one write in flight per sink, retries with backoff, and a
 * failed batch back at the front so order holds. Once every sink settled it, storage forgets it.
 * One failing sink never delays or drops another's activities.
 *
 * @param options - see {@link TrackerOptions}; throws a `TypeError` naming the field when one is invalid.
 */
export function createTracker(options: TrackerOptions): Tracker {
  return trackerWith(options, normalizeActivityInto, { pager: createPager, warnings: createWarnings, handOver: createHandOver, hold: createHold })
}

/**
 * {@link createTracker} for the activities an SDK builds itself, such as a browser bundle's. It
 * reads only the fields a page's activity carries: `activityType`, `userId`, `anonymousId`,
 * `sessionId`, `durationMs`, `context` and `metadata`, by their canonical names, and sets `id` and
 * `timestamp` itself. An activity with any other field (`description`, `tokenUsage`, `cost`, …) is
 * dropped as `invalid`, naming the field; aliases (`action`, `user_id`, `details`, …) are not read
 * (an alias alone is ignored, so `{ action }` is dropped as `invalid`). That leaves the alias tables
 * and the strict JSON walker out of the bundle: `metadata` and `context` are copied through JSON.
 * It is the lean tracker a bundle ships: it does not page (a storage with `spill` and `page` is used
 * through `load`, `add` and `remove` alone, and memory holds the whole queue, bounded by
 * `maxQueueBytes`); it does not warn without `debug` (`warnings` is ignored: see drops through
 * `onDrop`, `stats()` and `flush()`); it ignores `waitUntil`, which no browser has; and an awaited
 * `flush()` does not keep a process alive, which a page does not have.
 * Batching, retries, byte bounds, storage and everything else are those of `createTracker`.
 *
 * @param options - see {@link TrackerOptions}; `defaults` must use canonical names too.
 */
export function createCanonicalTracker(options: TrackerOptions): Tracker {
  return trackerWith(options, canonicalInto, {})
}

/** {@link normalizeCanonicalActivity} in the tracker's form (see {@link Normalize}). */
function canonicalInto(input: unknown, options: NormalizeOptions, slot: NormalizeSlot): Activity | undefined {
  const result = normalizeCanonicalActivity(input, options)
  if (!result.ok) {
    slot.issues = result.issues
    return undefined
  }
  slot.bytes = result.bytes
  return result.activity
}

/** A normaliser as the tracker calls it: the activity, or `undefined` with the issues in `slot`. */
type Normalize = (input: unknown, options: NormalizeOptions, slot: NormalizeSlot) => Activity | undefined

function trackerWith(options: TrackerOptions, normalize: Normalize, parts: TrackerParts): Tracker {
  const config = resolveTrackerOptions(options)
  const log = createLogger(config.debug)
  const warn = config.warnings === false ? undefined : parts.warnings?.(config.debug)
  const listeners: { [E in keyof TrackerEvents]: Set<TrackerEvents[E]> } = { sent: new Set(), dropped: new Set(), error: new Set() }
  const counters: TrackerStats = { queued: 0, sent: 0, failed: 0, dropped: 0, retried: 0, droppedByReason: {} }
  // The clock is read once per track(): the activity's timestamp and the batch timers share it.
  const normalizeOptions: NormalizeOptions = { maxMetadataBytes: config.maxMetadataBytes, now: () => lastTrackAt }
  // One slot for every call: a result object per track() would be garbage for the next collection.
  const normalized: NormalizeSlot = { bytes: 0, issues: [] }
  let seq = 0
  let closed = false
  let stopped = false
  let paused = false
  let shutdownPromise: Promise<boolean> | undefined
  let waiters: FlushWaiter[] = []
  const hold = parts.hold?.()
  let batchTimer: ReturnType<typeof setTimeout> | undefined
  let batchTimerAt = 0
  let windowStart: number | undefined
  let lastTrackAt = 0
  let drainScheduled = false
  // An entry of the latest run of track() calls, kept after its delivery so that its object shapes
  // (the entry's, the activity's, its metadata's) outlive the garbage collection after a queue
  // drains: V8 forgets a shape no object has any more, and with it the optimised track() built for
  // it. Stored with the timer check below rather than on every call: each store costs a write
  // barrier.
  let keptEntry: Entry | undefined

  // ---- reporting: counters, listeners, and warnings that need no debug ----

  function reportError(error: unknown): void {
    log.error('Background error.', error)
    warn?.error(error)
    try {
      config.onError?.(error)
    } catch {
      // onError is the last resort; if it throws there is nowhere left to report to.
    }
    emit('error', error)
  }

  function emit<E extends keyof TrackerEvents>(event: E, ...args: Parameters<TrackerEvents[E]>): void {
    for (const listener of listeners[event]) {
      try {
        ;(listener as (...values: Parameters<TrackerEvents[E]>) => void)(...args)
      } catch (error) {
        if (event !== 'error') reportError(error)
      }
    }
  }

  function drop(reason: DropReason, activities: Activity[], detail: DropDetail, count = activities.length, entries?: Entry[]): void {
    counters.dropped += count
    counters.droppedByReason[reason] = (counters.droppedByReason[reason] ?? 0) + count
    if (reason !== 'queue_overflow') log.debug(`Dropped (${reason}): ${count}.`, detail.error ?? '')
    warn?.drop(reason, count, detail)
    for (const waiter of entries ? waiters : []) {
      let mine = 0
      for (const entry of entries!) if (entry.seq >= waiter.from && entry.seq <= waiter.target) mine++
      if (mine > 0) waiter.dropped[reason] = (waiter.dropped[reason] ?? 0) + mine
    }
    try {
      config.onDrop?.(reason, activities, detail)
    } catch (error) {
      reportError(error)
    }
    emit('dropped', reason, activities, detail)
  }

  // ---- the parts: write-ahead persistence, and one delivery queue per sink ----

  // Without a storage, an entry is sendable at once and nothing is written.
  const writeAhead = config.storage && createWriteAhead(config.storage, config, config.sinks.length, {
    persisted: pumpAll,
    loaded(entries, front, fresh) {
      counters.queued += fresh
      for (const queue of queues) queue.add(entries, front)
      pumpAll()
    },
    error: reportError,
  }, parts.pager, options.maxQueueBytes)
  // A paging storage bounds memory itself; otherwise each queue drops its oldest past the bounds.
  const queues: SinkQueue[] = config.sinks.map((sink) =>
    createSinkQueue(
      sink,
      config,
      {
        canSend: () => !paused,
        settled: (entries, reason, error) => settled(sink.name, entries, reason, error),
        retried(count) {
          counters.retried += count
        },
        error: reportError,
        debug: log.debug,
      },
      !writeAhead?.pages,
    ),
  )

  function settled(sink: string, entries: Entry[], reason?: DropReason, error?: unknown): void {
    const activities = entries.map((entry) => entry.activity)
    if (reason) {
      if (reason !== 'queue_overflow') counters.failed += entries.length
      drop(reason, activities, { sink, error }, entries.length, entries)
    } else {
      counters.sent += entries.length
      if (entries.length > 0) emit('sent', activities, sink)
    }
    for (const entry of entries) {
      if (--entry.pendingSinks > 0) continue
      counters.queued--
      writeAhead?.settled(entry)
    }
    checkWaiters()
  }

  function pumpAll(): void {
    for (const queue of queues) queue.pump()
  }

  // The microtask after a synchronous run of track() calls: what it accepted is stored, then sent.
  function drain(): void {
    drainScheduled = false
    writeAhead?.schedule()
    pumpAll()
  }

  // ---- batching timers: a batch is due debounceTime after the last track(), at most flushInterval after the first ----

  function deadline(): number {
    return Math.min(lastTrackAt + config.debounceTime, windowStart! + config.flushInterval)
  }

  function armBatchTimer(now: number): void {
    if (batchTimer !== undefined) {
      // Re-arming on every track() would cost more than the rest of track(), so the timer is armed
      // once and re-armed lazily when it fires early. The clock check is for platforms that cancel
      // the timers of a finished request (Cloudflare Workers): one that never fired is replaced.
      if (now <= batchTimerAt) return
      clearTimeout(batchTimer)
    }
    batchTimerAt = deadline()
    batchTimer = unref(setTimeout(onBatchTimer, Math.max(0, batchTimerAt - now)))
  }

  function onBatchTimer(): void {
    batchTimer = undefined
    if (windowStart === undefined || stopped) return
    const now = Date.now()
    if (now < deadline()) return armBatchTimer(now)
    windowStart = undefined
    markDue(seq)
  }

  function markDue(upTo: number): void {
    for (const queue of queues) queue.due(upTo)
    pumpAll()
  }

  // ---- flush bookkeeping ----

  function lowestUnsettled(): number {
    let lowest = writeAhead ? writeAhead.backlogFrom() : Number.POSITIVE_INFINITY
    for (const queue of queues) {
      const first = queue.first()
      if (first && first.seq < lowest) lowest = first.seq
    }
    return lowest
  }

  function checkWaiters(): void {
    if (waiters.length === 0) return
    const lowest = lowestUnsettled()
    waiters = waiters.filter((waiter) => {
      if (lowest <= waiter.target) return true
      waiter.resolve(false)
      return false
    })
    syncHold()
  }

  // Held exactly while there are waiters.
  function syncHold(): void {
    hold?.(waiters.length > 0)
  }

  async function flushReport(timeoutMs?: number): Promise<FlushReport> {
    await writeAhead?.loaded
    void writeAhead?.flush()
    const target = seq
    const from = lowestUnsettled()
    if (from > target) return { delivered: true, timedOut: false, dropped: {} }
    return new Promise<FlushReport>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const waiter: FlushWaiter = {
        from,
        target,
        dropped: {},
        resolve(timedOut) {
          clearTimeout(timer)
          resolve({ delivered: !timedOut && Object.keys(waiter.dropped).length === 0, timedOut, dropped: waiter.dropped })
        },
      }
      waiters.push(waiter)
      syncHold()
      if (timeoutMs !== undefined) {
        timer = unref(
          setTimeout(() => {
            waiters = waiters.filter((item) => item !== waiter)
            syncHold()
            waiter.resolve(true)
          }, timeoutMs),
        )
      }
      const now = Date.now()
      for (const queue of queues) {
        // A write or retry whose own timer died with an earlier request is noticed here, and its
        // deadline watched from this caller's context.
        queue.check(now)
        queue.watch()
      }
      markDue(target)
    })
  }

  // ---- the public surface ----

  function track(input: ActivityInput): string | undefined {
    try {
      if (closed) {
        drop('shutdown', [], { input }, 1)
        return undefined
      }
      let defaults: TrackerDefaults | undefined
      try {
        defaults = typeof config.defaults === 'function' ? config.defaults() : config.defaults
      } catch (error) {
        // A throwing defaults function costs its defaults, never the activity.
        reportError(error)
      }
      const merged = defaults && isPlainObject(input) ? mergeActivityDefaults(defaults, input) : input
      lastTrackAt = Date.now()
      const valid = normalize(merged, normalizeOptions, normalized)
      if (!valid) {
        drop('invalid', [], { input, error: new ValidationError(normalized.issues, input) }, 1)
        return undefined
      }
      // Read before beforeSend, which may track (and so reuse the slot).
      const bytes = normalized.bytes
      let activity: Activity | null | undefined = valid
      if (config.beforeSend) {
        try {
          activity = config.beforeSend(activity)
        } catch (error) {
          drop('before_send_error', [valid], { input, error })
          return undefined
        }
        if (!activity) {
          drop('filtered', [valid], { input })
          return undefined
        }
      }
      // Without a storage, an entry is sendable at once. `pendingSinks` and `persisted` change
      // after the entry is made (each sink's settling, the write-ahead), and are stored over other
      // values here so that V8 knows them as changing from the first call on: finding it out at the
      // first delivery would throw away the optimised track() that took them as constants.
      const entry: Entry = { activity, seq: seq + 1, bytes, pendingSinks: -1, persisted: !!writeAhead }
      entry.pendingSinks = queues.length
      entry.persisted = !writeAhead
      const placement = writeAhead ? writeAhead.accept(entry) : 'held'
      if (placement === 'full') {
        drop('queue_overflow', [activity], {})
        return undefined
      }
      seq++
      counters.queued++
      if (placement === 'held') for (const queue of queues) queue.push(entry)
      windowStart ??= lastTrackAt
      // A drain already scheduled means an earlier track() of this synchronous run checked the
      // timers, and none can have fired or been cancelled since: checking again on every call of a
      // long burst would re-arm the batch timer each time its deadline passed. Every 1024th
      // activity checks anyway (a second drain is harmless), so that V8 has seen this branch run
      // once it collects feedback: the first call of a process runs before it does, and optimised
      // code built without the branch's feedback is thrown away at the first call of the next run.
      if (!drainScheduled || (seq & 1023) === 0) {
        armBatchTimer(lastTrackAt)
        for (const queue of queues) queue.check(lastTrackAt)
        drainScheduled = true
        queueMicrotask(drain)
        keptEntry = entry
      }
      handOver?.()
      return activity.id
    } catch (error) {
      // Unreachable by design; kept so that a bug in the tracker still never reaches the host app.
      try {
        reportError(error)
        drop('invalid', [], { input, error }, 1)
      } catch {
        // Nothing left to do.
      }
      return undefined
    }
  }

  function flush(timeoutMs?: number): Promise<boolean>
  function flush(options: FlushOptions): Promise<FlushReport>
  function flush(argument?: number | FlushOptions): Promise<boolean | FlushReport> {
    const detailed = typeof argument === 'object' && argument !== null
    // flushReport never rejects: the load it awaits reports its own failure.
    const report = flushReport(detailed ? argument.timeoutMs : argument)
    return detailed ? report : report.then((done) => done.delivered)
  }

  function shutdown(shutdownOptions: ShutdownOptions = {}): Promise<boolean> {
    shutdownPromise ??= (async () => {
      closed = true
      const { delivered } = await flush({ timeoutMs: shutdownOptions.timeoutMs ?? 10_000 })
      stopped = true
      writeAhead?.stop()
      clearTimeout(batchTimer)
      for (const queue of queues) {
        const left = queue.stop()
        if (left.length > 0) drop('shutdown', left.map((entry) => entry.activity), { sink: queue.sink.name })
      }
      // Spilled activities never came back into memory; the storage keeps them for the next tracker.
      const spilled = writeAhead?.spilled()
      if (spilled) drop('shutdown', [], {}, spilled)
      // What is left stays in a persistent storage for the next tracker, so it is not settled here.
      counters.queued = 0
      for (const waiter of waiters) waiter.resolve(true)
      waiters = []
      syncHold()
      await writeAhead?.flush()
      await Promise.all(
        queues.map(async ({ sink }) => {
          try {
            await sink.close?.()
          } catch (error) {
            reportError(new SinkError(sink.name, 'close() failed.', error))
          }
        }),
      )
      try {
        await config.storage?.close?.()
      } catch (error) {
        reportError(new StorageError('close() failed.', error))
      }
      return delivered
    })()
    return shutdownPromise
  }

  const tracker: Tracker = {
    track,
    flush,
    shutdown,
    stats: () => ({ ...counters, droppedByReason: { ...counters.droppedByReason } }),
    pause() {
      paused = true
    },
    resume() {
      paused = false
      pumpAll()
    },
    on(event, listener) {
      if (!Object.hasOwn(listeners, event)) {
        throw new TypeError(`[usertracking] Unknown event '${String(event)}'; use 'sent', 'dropped' or 'error'.`)
      }
      listeners[event].add(listener)
      return () => {
        listeners[event].delete(listener)
      }
    },
  }
  const handOver = config.waitUntil && parts.handOver?.(config.waitUntil, tracker, config.writeTimeoutMs, reportError)
  return tracker
}
