import type { Activity, ActivityInput } from './activity'
import { backoffDelay } from './backoff'
import { Deque } from './deque'
import { SinkError, StorageError, UserTrackingError, ValidationError } from './errors'
import { createLogger } from './logger'
import { unref } from './unref'
import { isPlainObject, normalizeActivity, normalizeCanonicalActivity, type NormalizeOptions, type NormalizeResult } from './normalize'
import {
  resolveTrackerOptions,
  type DropDetail,
  type DropReason,
  type TrackerDefaults,
  type TrackerOptions,
} from './options'
import type { Sink, SinkResult } from './sink'

/** Counters of one tracker since it was created. */
export interface TrackerStats {
  /** Activities accepted and not yet settled by every sink. */
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

/** A tracker: queues activities and delivers them to its sinks in the background. */
export interface Tracker {
  /**
   * Queues one activity and returns its id, or `undefined` if it was dropped (invalid, filtered, or
   * after shutdown). Synchronous and never throws; the reason for a drop goes to `stats()`, `onDrop`
   * and the debug log.
   */
  track(input: ActivityInput): string | undefined
  /**
   * Sends everything queued so far and resolves when each of it is delivered or given up on, or when
   * `timeoutMs` passes. Resolves `true` when everything settled in time. Never rejects.
   */
  flush(timeoutMs?: number): Promise<boolean>
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

interface Entry {
  activity: Activity
  /** Order of acceptance; activities loaded from storage get negative numbers so they sort first. */
  seq: number
  /** Sinks that have not settled it yet. */
  pendingSinks: number
  /** Whether storage holds it; an activity is sent only once it is persisted (write-ahead). */
  persisted: boolean
}

interface SinkState {
  sink: Sink
  queue: Deque<Entry>
  inFlight: Entry[] | undefined
  abort: AbortController | undefined
  /** Everything with a seq up to this is due now, whatever the batch size. */
  dueSeq: number
  retryTimer: ReturnType<typeof setTimeout> | undefined
  /** Retries of the batch at the front; reset when a batch settles. */
  attempt: number
  firstFailureAt: number | undefined
  /** Batch size cap, halved on HTTP 413 and restored after a success. */
  sizeLimit: number
  overflowWarned: boolean
}

interface FlushWaiter {
  target: number
  resolve: (settled: boolean) => void
}

/**
 * Puts `defaults` under `input`: the call's own fields win, but an explicit `undefined` counts as
 * not given (withActivity passes `userId: undefined` when its options name no user, and that must
 * not erase a default user); `metadata` and `context` merge key by key. Object.assign and a key
 * loop rather than object spread, which takes a slow path on Node 20 costing microseconds.
 */
function mergeDefaults(defaults: TrackerDefaults, input: ActivityInput): ActivityInput {
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
  return merged as ActivityInput
}


/**
 * Creates a tracker that delivers to `options.sinks`.
 *
 * Each sink gets its own bounded queue: a batch goes out when `batchSize` activities are waiting,
 * `debounceTime` after the last `track()`, and never later than `flushInterval` after the oldest
 * waiting activity. One write is in flight per sink; retryable failures back off exponentially
 * with full jitter and honour `Retry-After`, and a failed batch goes back to the front so order
 * holds. One failing sink never delays or drops another's activities.
 *
 * @param options - see {@link TrackerOptions}; throws a `TypeError` naming the field when one is invalid.
 */
export function createTracker(options: TrackerOptions): Tracker {
  return trackerWith(options, normalizeActivity)
}

/**
 * {@link createTracker} for callers that only ever pass canonical {@link Activity} field names, such
 * as a browser bundle whose every activity is built by the SDK itself. It reads no aliases
 * (`action`, `user_id`, `details`, `prompt_tokens`, …: an alias alone is ignored, so `{ action }`
 * is dropped as `invalid`), and leaves the alias tables out of the bundle. Validation, limits and
 * everything else are those of `createTracker`.
 *
 * @param options - see {@link TrackerOptions}; `defaults` must use canonical names too.
 */
export function createCanonicalTracker(options: TrackerOptions): Tracker {
  return trackerWith(options, normalizeCanonicalActivity)
}

function trackerWith(options: TrackerOptions, normalize: (input: unknown, options: NormalizeOptions) => NormalizeResult): Tracker {
  const config = resolveTrackerOptions(options)
  const log = createLogger(config.debug)
  const storage = config.storage
  const listeners: { [E in keyof TrackerEvents]: Set<TrackerEvents[E]> } = {
    sent: new Set(),
    dropped: new Set(),
    error: new Set(),
  }
  const counters: TrackerStats = { queued: 0, sent: 0, failed: 0, dropped: 0, retried: 0, droppedByReason: {} }
  const states: SinkState[] = config.sinks.map((sink) => ({
    sink,
    queue: new Deque<Entry>(),
    inFlight: undefined,
    abort: undefined,
    dueSeq: 0,
    retryTimer: undefined,
    attempt: 0,
    firstFailureAt: undefined,
    sizeLimit: config.batchSize,
    overflowWarned: false,
  }))

  const normalizeOptions = { maxMetadataBytes: config.maxMetadataBytes }
  let seq = 0
  let closed = false
  let stopped = false
  let paused = false
  let shutdownPromise: Promise<boolean> | undefined
  let waiters: FlushWaiter[] = []

  let batchTimer: ReturnType<typeof setTimeout> | undefined
  let windowStart: number | undefined
  let lastTrackAt = 0
  let drainScheduled = false
  let eagerDelivery: Promise<unknown> | undefined

  let storageChain: Promise<void> = Promise.resolve()
  let pendingAdds: Entry[] = []
  let pendingRemoves: string[] = []
  let persistScheduled = false
  let persistQueued = false
  // A ref'd timer held while someone awaits flush() or shutdown(): every other timer is unref'd so
  // tracking never keeps a process alive, but an awaited flush must not be cut short by the exit.
  let hold: ReturnType<typeof setInterval> | undefined

  function reportError(error: unknown): void {
    log.error('Background error.', error)
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

  function drop(reason: DropReason, activities: Activity[], detail: DropDetail, count = activities.length): void {
    counters.dropped += count
    counters.droppedByReason[reason] = (counters.droppedByReason[reason] ?? 0) + count
    if (reason !== 'queue_overflow') {
      const why = detail.error instanceof Error ? ` ${detail.error.message}` : ''
      log.debug(`Dropped (${reason}): ${count}.${why}`)
    }
    try {
      config.onDrop?.(reason, activities, detail)
    } catch (error) {
      reportError(error)
    }
    emit('dropped', reason, activities, detail)
  }

  // ---- persistence (write-behind, one storage call at a time) ----

  function schedulePersist(): void {
    if (persistScheduled || !storage) return
    persistScheduled = true
    const run = () => {
      persistScheduled = false
      persistNow()
    }
    if (config.persistIntervalMs === 0) queueMicrotask(run)
    else unref(setTimeout(run, config.persistIntervalMs))
  }

  // One storage step at a time, each taking everything pending when it runs, so that bursts
  // tracked while a slow write (an fsync) is under way are coalesced into the next write.
  function persistNow(): Promise<void> {
    if (!storage || persistQueued) return storageChain
    persistQueued = true
    storageChain = storageChain.then(async () => {
      persistQueued = false
      const adds = pendingAdds
      const removes = pendingRemoves
      pendingAdds = []
      pendingRemoves = []
      if (adds.length > 0) {
        try {
          await storage.add(adds.map((entry) => entry.activity))
        } catch (error) {
          reportError(new StorageError('Could not store activities; they stay in memory.', error))
        }
        for (const entry of adds) entry.persisted = true
        pumpAll()
      }
      if (removes.length > 0) {
        try {
          await storage.remove(removes)
        } catch (error) {
          reportError(new StorageError('Could not remove activities.', error))
        }
      }
    })
    return storageChain
  }

  function settle(entry: Entry): void {
    entry.pendingSinks--
    if (entry.pendingSinks > 0) return
    counters.queued--
    if (storage) {
      pendingRemoves.push(entry.activity.id)
      schedulePersist()
    }
  }

  // ---- batching timers ----

  function armBatchTimer(): void {
    if (batchTimer !== undefined || windowStart === undefined || stopped) return
    const deadline = Math.min(lastTrackAt + config.debounceTime, windowStart + config.flushInterval)
    batchTimer = unref(setTimeout(onBatchTimer, Math.max(0, deadline - Date.now())))
  }

  // Re-arming a timer on every track() would cost more than the rest of track() together, so the
  // timer is armed once and, when it fires early because more tracking came in, re-armed lazily.
  function onBatchTimer(): void {
    batchTimer = undefined
    if (windowStart === undefined) return
    const deadline = Math.min(lastTrackAt + config.debounceTime, windowStart + config.flushInterval)
    if (Date.now() < deadline) {
      armBatchTimer()
      return
    }
    windowStart = undefined
    markDue(seq)
  }

  function markDue(upTo: number): void {
    for (const state of states) state.dueSeq = Math.max(state.dueSeq, upTo)
    pumpAll()
  }

  function scheduleDrain(): void {
    if (drainScheduled) return
    drainScheduled = true
    queueMicrotask(() => {
      drainScheduled = false
      pumpAll()
    })
  }

  // ---- delivery ----

  function pumpAll(): void {
    for (const state of states) pump(state)
  }

  function pump(state: SinkState): void {
    if (stopped || paused || state.inFlight || state.retryTimer !== undefined) return
    const front = state.queue.peek()
    if (!front || !front.persisted) return
    if (state.queue.length < state.sizeLimit && front.seq > state.dueSeq) return
    const batch: Entry[] = []
    while (batch.length < state.sizeLimit) {
      const next = state.queue.peek()
      if (!next || !next.persisted) break
      batch.push(state.queue.shift()!)
    }
    void send(state, batch)
  }

  async function send(state: SinkState, batch: Entry[]): Promise<void> {
    state.inFlight = batch
    const controller = new AbortController()
    state.abort = controller
    const activities = batch.map((entry) => entry.activity)
    let timeout: ReturnType<typeof setTimeout> | undefined
    const timedOut = new Promise<SinkResult>((resolve) => {
      timeout = unref(
        setTimeout(() => {
          controller.abort(new SinkError(state.sink.name, `Write timed out after ${config.writeTimeoutMs} ms.`))
          resolve({ type: 'retryable', error: controller.signal.reason })
        }, config.writeTimeoutMs),
      )
    })
    let result: SinkResult
    try {
      result = await Promise.race([state.sink.write(activities, { signal: controller.signal }), timedOut])
      if (typeof result?.type !== 'string') {
        throw new TypeError('write() returned no SinkResult.')
      }
    } catch (error) {
      reportError(error instanceof UserTrackingError ? error : new SinkError(state.sink.name, 'write() threw.', error))
      result = { type: 'retryable', error }
    } finally {
      clearTimeout(timeout)
    }
    state.inFlight = undefined
    state.abort = undefined
    if (stopped) return
    handleResult(state, batch, result)
    checkWaiters()
    pump(state)
  }

  function handleResult(state: SinkState, batch: Entry[], result: SinkResult): void {
    const name = state.sink.name
    // Set when the batch is given up on.
    let reason: DropReason | undefined
    switch (result.type) {
      case 'success': {
        state.sizeLimit = config.batchSize
        const rejected = new Map((result.rejected ?? []).map((item) => [item.id, item.error]))
        const sent: Activity[] = []
        const refused: Activity[] = []
        for (const entry of batch) (rejected.has(entry.activity.id) ? refused : sent).push(entry.activity)
        if (refused.length > 0) {
          giveUp('rejected', refused, name, new SinkError(name, [...rejected.values()].join('; ')))
        }
        counters.sent += sent.length
        log.debug(`[${name}] Sent ${sent.length} activities.`)
        if (sent.length > 0) emit('sent', sent, name)
        break
      }
      case 'too_large':
        if (batch.length > 1) {
          state.sizeLimit = Math.ceil(batch.length / 2)
          requeue(state, batch)
          return
        }
        reason = 'too_large'
        break
      case 'failure':
        reason = 'permanent_failure'
        break
      case 'retryable': {
        const now = Date.now()
        state.attempt++
        state.firstFailureAt ??= now
        const deadline = state.firstFailureAt + config.maxRetryTimeMs
        if (state.attempt > config.maxRetries || now >= deadline) {
          reason = 'retries_exhausted'
          break
        }
        const delay = Math.min(
          result.retryInMs ?? backoffDelay(state.attempt, config.retryBaseDelayMs, config.retryMaxDelayMs),
          deadline - now,
        )
        log.debug(`[${name}] Retry ${state.attempt} in ${delay} ms.`, result.error)
        counters.retried += batch.length
        requeue(state, batch)
        state.retryTimer = unref(
          setTimeout(() => {
            state.retryTimer = undefined
            pump(state)
          }, delay),
        )
        return
      }
    }
    // Settled, delivered or not: the next batch starts with a fresh retry budget.
    state.attempt = 0
    state.firstFailureAt = undefined
    if (reason) giveUp(reason, batch.map((entry) => entry.activity), name, (result as { error?: unknown }).error)
    for (const entry of batch) settle(entry)
  }

  // A sink gave up on these: `failed` counts them beside `dropped`.
  function giveUp(reason: DropReason, activities: Activity[], sink: string, error: unknown): void {
    counters.failed += activities.length
    drop(reason, activities, { sink, error })
  }

  // Back to the front, and due at once: the batch was due when it went out.
  function requeue(state: SinkState, batch: Entry[]): void {
    state.queue.unshiftAll(batch)
    state.dueSeq = Math.max(state.dueSeq, batch[batch.length - 1]!.seq)
  }

  // ---- flush bookkeeping ----

  function lowestUnsettled(): number {
    let lowest = Infinity
    for (const state of states) {
      const first = state.inFlight?.[0] ?? state.queue.peek()
      if (first && first.seq < lowest) lowest = first.seq
    }
    return lowest
  }

  function checkWaiters(): void {
    if (waiters.length === 0) return
    const lowest = lowestUnsettled()
    waiters = waiters.filter((waiter) => {
      if (lowest <= waiter.target) return true
      waiter.resolve(true)
      return false
    })
    syncHold()
  }

  // Held exactly while there are waiters.
  function syncHold(): void {
    if (waiters.length > 0) hold ??= setInterval(() => {}, 2 ** 31 - 1)
    else {
      clearInterval(hold)
      hold = undefined
    }
  }

  function enqueue(entry: Entry): void {
    for (const state of states) {
      state.queue.push(entry)
      trim(state)
    }
  }

  function trim(state: SinkState): void {
    while (state.queue.length > config.maxQueueSize) {
      const oldest = state.queue.shift()!
      if (!state.overflowWarned) {
        state.overflowWarned = true
        log.warn(`[${state.sink.name}] Queue full; dropping the oldest.`)
      }
      drop('queue_overflow', [oldest.activity], { sink: state.sink.name })
      settle(oldest)
      checkWaiters()
    }
  }

  // ---- start-up: resume what the storage holds ----

  const loaded: Promise<void> = storage
    ? (storageChain = storageChain
        .then(() => storage.load())
        .then((activities) => {
          if (stopped || activities.length === 0) return
          log.debug(`Resuming ${activities.length} stored activities.`)
          const entries = activities.map((activity, index) => ({
            activity,
            seq: index - activities.length,
            pendingSinks: states.length,
            persisted: true,
          }))
          counters.queued += entries.length
          // Older than anything tracked meanwhile, so in front, and the first to go when over maxQueueSize.
          for (const state of states) {
            state.queue.unshiftAll(entries)
            trim(state)
          }
          pumpAll()
        })
        .catch((error) => reportError(new StorageError('Could not load activities.', error))))
    : Promise.resolve()

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
      const merged = defaults && isPlainObject(input) ? mergeDefaults(defaults, input) : input
      const result = normalize(merged, normalizeOptions)
      if (!result.ok) {
        drop('invalid', [], { input, error: new ValidationError(result.issues, input) }, 1)
        return undefined
      }
      let activity: Activity | null | undefined = result.activity
      if (config.beforeSend) {
        try {
          activity = config.beforeSend(activity)
        } catch (error) {
          drop('before_send_error', [result.activity], { input, error })
          return undefined
        }
        if (!activity) {
          drop('filtered', [result.activity], { input })
          return undefined
        }
      }
      const entry: Entry = { activity, seq: ++seq, pendingSinks: states.length, persisted: !storage }
      counters.queued++
      enqueue(entry)
      if (storage) {
        pendingAdds.push(entry)
        schedulePersist()
      }
      const now = Date.now()
      lastTrackAt = now
      if (windowStart === undefined) windowStart = now
      armBatchTimer()
      for (const state of states) {
        if (state.queue.length >= state.sizeLimit) {
          scheduleDrain()
          break
        }
      }
      if (config.waitUntil) deliverEagerly()
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

  function deliverEagerly(): void {
    if (eagerDelivery) return
    const loop = async (): Promise<void> => {
      while (counters.queued > 0 && !stopped) {
        if (!(await flush(config.writeTimeoutMs))) break
      }
    }
    eagerDelivery = loop().finally(() => {
      eagerDelivery = undefined
    })
    try {
      config.waitUntil!(eagerDelivery)
    } catch (error) {
      reportError(error)
    }
  }

  async function flush(timeoutMs?: number): Promise<boolean> {
    await loaded
    if (storage) persistNow()
    const target = seq
    if (lowestUnsettled() > target) return true
    return new Promise<boolean>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const waiter: FlushWaiter = {
        target,
        resolve: (settled) => {
          clearTimeout(timer)
          resolve(settled)
        },
      }
      waiters.push(waiter)
      syncHold()
      if (timeoutMs !== undefined) {
        timer = unref(
          setTimeout(() => {
            waiters = waiters.filter((item) => item !== waiter)
            syncHold()
            resolve(false)
          }, timeoutMs),
        )
      }
      markDue(target)
    })
  }

  function shutdown(shutdownOptions: ShutdownOptions = {}): Promise<boolean> {
    shutdownPromise ??= (async () => {
      closed = true
      const delivered = await flush(shutdownOptions.timeoutMs ?? 10_000)
      stopped = true
      clearTimeout(batchTimer)
      for (const state of states) {
        clearTimeout(state.retryTimer)
        state.abort?.abort(new SinkError(state.sink.name, 'Aborted by shutdown().'))
        const left = state.inFlight ?? []
        while (state.queue.length > 0) left.push(state.queue.shift()!)
        state.inFlight = undefined
        if (left.length > 0) drop('shutdown', left.map((entry) => entry.activity), { sink: state.sink.name })
      }
      // What is left stays in a persistent storage for the next tracker, so it is not settled here.
      counters.queued = 0
      for (const waiter of waiters) waiter.resolve(false)
      waiters = []
      syncHold()
      await persistNow()
      await Promise.all(
        states.map(async (state) => {
          try {
            await state.sink.close?.()
          } catch (error) {
            reportError(new SinkError(state.sink.name, 'close() failed.', error))
          }
        }),
      )
      try {
        await storage?.close?.()
      } catch (error) {
        reportError(new StorageError('close() failed.', error))
      }
      return delivered
    })()
    return shutdownPromise
  }

  return {
    track,
    flush: (timeoutMs) => flush(timeoutMs).catch(() => false),
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
}
