import {
  backoffDelay,
  normalizeCanonicalActivity,
  type Activity,
  type DropReason,
  type Logger,
  type ShutdownOptions,
  type Sink,
  type SinkResult,
  type Storage,
  type Tracker,
  type TrackerStats,
} from '@usertracking/core'

/**
 * Options of {@link createPageDelivery}: the ones of core's `TrackerOptions` a page uses, with
 * their names, meanings and defaults, but `batchSize`'s (25, so a request can use `keepalive`).
 */
export interface PageDeliveryOptions {
  /** Where activities are delivered; each sink has its own queue, batching and retry state. */
  sinks: Sink[]
  /** Where each activity is written before it is sent, and read back from on the next visit. */
  storage: Storage
  /** Most activities per `sink.write`. @default 25 */
  batchSize?: number
  /** A batch goes out this long after the last `track()`, in milliseconds. @default 500 */
  debounceTime?: number
  /** The longest an activity waits before its batch goes out, in milliseconds. @default 5000 */
  flushInterval?: number
  /** Retries of a batch after retryable failures before it is dropped (`retries_exhausted`). @default 10 */
  maxRetries?: number
  /** Most activities held per sink; past it the oldest is dropped (`queue_overflow`). @default Infinity */
  maxQueueSize?: number
  /** Most bytes (of JSON, estimated) held per sink; past it the oldest is dropped (`queue_overflow`). @default 33554432 */
  maxQueueBytes?: number
  /** Sees each activity once it is accepted, before it is stored. */
  accepted?: (activity: Activity) => void
  /** Receives drops (debug) and background errors (error). */
  logger: Logger
}

/**
 * What a page needs of a tracker: core's {@link Tracker} without `on()`, and with `flush()`
 * answering `true` or `false` only (no `FlushReport`).
 */
export type PageDelivery = Pick<Tracker, 'track' | 'stats' | 'pause' | 'resume' | 'shutdown'> & {
  /** Sends everything tracked so far; `true` once all of it reached every sink, `false` when some was dropped or `timeoutMs` ran out. */
  flush(timeoutMs?: number): Promise<boolean>
}

/** One accepted activity, shared by the queues of every sink. */
interface Entry {
  activity: Activity
  /** Order of acceptance; what storage held at start comes first, numbered below anything tracked. */
  seq: number
  /** Estimated bytes of its JSON. */
  bytes: number
  /** Sinks that have not settled it yet. */
  pending: number
  /** Whether its storage write is done: it is sent only then (write-ahead). */
  stored: boolean
}

/** The delivery state of one sink. */
interface Lane {
  sink: Sink
  queue: Entry[]
  /** Bytes of `queue`. */
  bytes: number
  /** The batch being written, and how to abort it. */
  flight?: Entry[]
  abort?: AbortController
  /** Everything up to this seq is due whatever the batch size. */
  due: number
  /** Retries of the batch at the front, and the timer of the next retry while it backs off. */
  attempt: number
  retry?: ReturnType<typeof setTimeout>
  /** The batch size, halved on `too_large`, doubled back after `GROW_AFTER` successes in a row. */
  limit: number
  successes: number
}

/** Writes that must succeed in a row before a halved batch limit doubles again. */
const GROW_AFTER = 8
/**
 * How long one `sink.write` may take before its signal aborts, in milliseconds (core's
 * `writeTimeoutMs` default): the write then ends, as every {@link Sink} must on abort, and is retried.
 */
const WRITE_TIMEOUT_MS = 30_000

/** A `flush()` in progress: it resolves once everything up to `target` is settled. */
interface Waiter {
  target: number
  /** Set once some of its activities were dropped. */
  failed?: boolean
  resolve(delivered: boolean): void
}

/**
 * The browser's delivery core: core's `createCanonicalTracker` (same normaliser, ids, drop reasons
 * and counters) without what a page does not use, so that the full build stays small. Every
 * accepted activity is written to `storage` before it is sent (one storage call per synchronous
 * burst, one at a time); what storage held at start is sent first. Each sink's batches go out
 * `debounceTime` after the last `track()`, at most `flushInterval` after the first, or when
 * `batchSize` is reached, with one write in flight; a retryable failure backs off
 * with full jitter (1 s doubling up to 60 s, or `Retry-After`) and puts the batch back in front; a
 * `too_large` batch is halved; past `maxQueueSize` / `maxQueueBytes` the oldest is dropped. Once
 * every sink settled an activity, storage forgets it. What it leaves out: `on()` listeners,
 * `onDrop` / `onError`, `maxRetryTimeMs`, `maxBatchBytes` (a `too_large` answer halves the count),
 * paging, `waitUntil` and flush reports.
 *
 * @param options - see {@link PageDeliveryOptions}.
 */
export function createPageDelivery(options: PageDeliveryOptions): PageDelivery {
  const { storage, logger } = options
  // A misconfiguration is a programming error: it throws at creation, naming the option, as core's does.
  const number = (key: keyof PageDeliveryOptions, fallback: number, minimum = 1): number => {
    const value = options[key] ?? fallback
    if (!(typeof value === 'number' && value >= minimum)) throw new TypeError(`[usertracking] options.${key} must be a number of at least ${minimum}; got ${value}.`)
    return value
  }
  const batchSize = number('batchSize', 25)
  const maxQueueSize = number('maxQueueSize', Infinity)
  const maxQueueBytes = number('maxQueueBytes', 33_554_432)
  const debounceTime = number('debounceTime', 500, 0)
  const flushInterval = number('flushInterval', 5000, 0)
  const maxRetries = number('maxRetries', 10, 0)
  const counters: TrackerStats = { queued: 0, sent: 0, failed: 0, dropped: 0, retried: 0, droppedByReason: {} }
  const lanes: Lane[] = options.sinks.map((sink) => ({ sink, queue: [], bytes: 0, due: 0, attempt: 0, limit: batchSize, successes: 0 }))
  if (!lanes[0]) throw new TypeError('[usertracking] options.sinks must be a non-empty array.')
  /** Each takes itself out once resolved. */
  const waiters = new Set<Waiter>()
  let seq = 0
  let paused = false
  let closed = false
  let stopped = false
  let shutdownPromise: Promise<boolean> | undefined
  let batchTimer: ReturnType<typeof setTimeout> | undefined
  let windowStart: number | undefined
  // The storage steps run one at a time, each taking what is pending when it starts.
  let chain: Promise<unknown> = Promise.resolve()
  let adds: Entry[] = []
  let removes: string[] = []
  let scheduled = false

  const report = (error: unknown) => logger.error('Background error.', error)

  function drop(reason: DropReason, count: number, detail?: unknown): void {
    counters.dropped += count
    counters.droppedByReason[reason] = (counters.droppedByReason[reason] ?? 0) + count
    if (reason !== 'queue_overflow') logger.debug(`Dropped (${reason}): ${count}.`, detail ?? '')
  }

  // ---- write-ahead: one storage step per synchronous burst ----

  function schedule(): void {
    if (!scheduled) queueMicrotask(persist)
    scheduled = true
  }

  function persist(): Promise<unknown> {
    scheduled = false
    const added = adds
    const removed = removes
    adds = []
    removes = []
    return (chain = chain
      .then(async () => {
        if (added.length > 0) {
          // A failed write leaves them in memory: they are sent all the same.
          await storage.add(added.map((entry) => entry.activity)).catch(report)
          for (const entry of added) entry.stored = true
          lanes.forEach(pump)
        }
        if (removed.length > 0) await storage.remove(removed).catch(report)
      })
      // A step that failed unexpectedly must not stop every later one.
      .catch(report))
  }

  // What an earlier page left is numbered from here, below anything tracked, so it goes first.
  let startSeq = -(2 ** 52)
  const loaded = (chain = chain
    .then(() => storage.load())
    .then((activities) => {
      const entries = activities.map((activity): Entry => ({ activity, seq: startSeq++, bytes: JSON.stringify(activity).length, pending: lanes.length, stored: true }))
      counters.queued += entries.length
      for (const lane of lanes) enqueue(lane, entries, true)
      lanes.forEach(pump)
    })
    .catch(report))

  // ---- the queue of each sink ----

  function enqueue(lane: Lane, entries: Entry[], front?: boolean): void {
    // Not `unshift(...entries)`: what an earlier page left can be more entries than a call takes arguments.
    if (front) lane.queue = entries.concat(lane.queue)
    else lane.queue.push(...entries)
    for (const entry of entries) lane.bytes += entry.bytes
  }

  function take(lane: Lane, count: number): Entry[] {
    const taken = lane.queue.splice(0, count)
    for (const entry of taken) lane.bytes -= entry.bytes
    return taken
  }

  function pump(lane: Lane): void {
    const { queue } = lane
    if (stopped || paused || lane.flight || lane.retry || !queue[0]?.stored) return
    if (queue.length < lane.limit && queue[0].seq > lane.due) return
    let count = 0
    while (count < lane.limit && queue[count]?.stored) count++
    const batch = (lane.flight = take(lane, count))
    const abort = (lane.abort = new AbortController())
    const timer = setTimeout(() => abort.abort(), WRITE_TIMEOUT_MS)
    let rejected: Set<string>
    void (async () => {
      const result = await lane.sink.write(batch.map((entry) => entry.activity), { signal: abort.signal })
      // Read here, a malformed answer (none at all, a `rejected` that is not a list of `{ id }`)
      // throws before anything is settled: a failed write, reported and retried, as in core's tracker.
      rejected = new Set((result as { rejected?: { id: string }[] }).rejected?.map((item) => item.id))
      return result
    })()
      .catch((error: unknown): SinkResult => (report(error), { type: 'retryable', error }))
      .then((result) => {
        clearTimeout(timer)
        // Stopped meanwhile: shutdown accounted for the batch.
        if (lane.flight !== batch) return
        lane.flight = undefined
        handle(lane, batch, result, rejected)
        pump(lane)
      })
      // Nothing above should throw; were it to, the error is reported rather than left unhandled.
      .catch(report)
  }

  function handle(lane: Lane, batch: Entry[], result: SinkResult, rejected: Set<string>): void {
    let reason: DropReason | undefined
    switch (result.type) {
      case 'success': {
        if (++lane.successes >= GROW_AFTER) {
          lane.successes = 0
          lane.limit = Math.min(batchSize, lane.limit * 2)
        }
        const refused = batch.filter((entry) => rejected.has(entry.activity.id))
        if (refused.length > 0) settle(lane, refused, 'rejected', result.rejected)
        batch = batch.filter((entry) => !rejected.has(entry.activity.id))
        break
      }
      case 'too_large':
        if (batch.length > 1) {
          // The limit learned holds for the next batches too, until writes succeed again.
          lane.limit = Math.ceil(batch.length / 2)
          lane.successes = 0
          // Back in front, the queue holds a full batch again: it goes at once.
          enqueue(lane, batch, true)
          return
        }
        reason = 'too_large'
        break
      case 'failure':
        reason = 'permanent_failure'
        break
      default: {
        // `retryable`, or a type no sink should answer.
        if (++lane.attempt <= maxRetries) {
          // A `retryInMs` (`Retry-After`) is waited at most an hour, core's `maxRetryTimeMs` default: a
          // longer one would overflow setTimeout (past 2^31-1 ms it fires at once), and what waits
          // that long stays in storage for the next visit anyway. One that is not a number of at
          // least 0 (negative, NaN) leaves the wait to the backoff.
          const asked = (result as { retryInMs?: number }).retryInMs!
          const delay = asked >= 0 ? Math.min(asked, 3_600_000) : backoffDelay(lane.attempt, 1000, 60_000)
          logger.debug(`[${lane.sink.name}] Retry ${lane.attempt} in ${delay} ms.`, (result as { error?: unknown }).error)
          counters.retried += batch.length
          enqueue(lane, batch, true)
          lane.retry = setTimeout(() => {
            lane.retry = undefined
            pump(lane)
          }, delay)
          return
        }
        reason = 'retries_exhausted'
      }
    }
    // Settled, delivered or not: the next batch starts with a fresh retry budget.
    lane.attempt = 0
    settle(lane, batch, reason, (result as { error?: unknown }).error)
  }

  /** `lane`'s sink is done with `entries`: delivered without `reason`, given up on with one. */
  function settle(lane: Lane, entries: Entry[], reason?: DropReason, detail?: unknown): void {
    if (reason) {
      if (reason !== 'queue_overflow') counters.failed += entries.length
      drop(reason, entries.length, detail ?? lane.sink.name)
      for (const waiter of waiters) if (entries.some((entry) => entry.seq <= waiter.target)) waiter.failed = true
    } else counters.sent += entries.length
    for (const entry of entries) {
      if (--entry.pending > 0) continue
      counters.queued--
      removes.push(entry.activity.id)
      schedule()
    }
    checkWaiters()
  }

  // ---- flush ----

  // Resolves the waiters whose activities are all settled: none is left at or below their target.
  function checkWaiters(): void {
    let low = Infinity
    for (const lane of lanes) low = Math.min(low, (lane.flight ?? lane.queue)[0]?.seq ?? Infinity)
    for (const waiter of waiters) if (low > waiter.target) waiter.resolve(!waiter.failed)
  }

  // Sends everything up to `upTo` whatever the batch size; a flush with nothing left to wait for resolves.
  function markDue(upTo: number): void {
    for (const lane of lanes) {
      lane.due = Math.max(lane.due, upTo)
      pump(lane)
    }
    checkWaiters()
  }

  function flush(timeoutMs?: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      // Waiting for everything until the storage is loaded; then for what was tracked by then.
      const waiter: Waiter = {
        target: Infinity,
        resolve(delivered) {
          clearTimeout(timer)
          waiters.delete(waiter)
          resolve(delivered)
        },
      }
      waiters.add(waiter)
      // The time runs from the call: a storage that never loads (a blocked IndexedDB) cannot hold it up.
      if (timeoutMs !== undefined) timer = setTimeout(waiter.resolve, timeoutMs, false)
      // Each burst schedules its own storage write: there is none to start here.
      void loaded.then(() => markDue((waiter.target = seq)))
    })
  }

  return {
    track(input) {
      if (closed) return void drop('shutdown', 1)
      const result = normalizeCanonicalActivity(input)
      if (!result.ok) return void drop('invalid', 1, result.issues)
      const { activity } = result
      options.accepted?.(activity)
      const entry: Entry = { activity, seq: ++seq, bytes: result.bytes, pending: lanes.length, stored: false }
      counters.queued++
      adds.push(entry)
      schedule()
      for (const lane of lanes) {
        enqueue(lane, [entry])
        // The oldest make room: what is newest tells most about now.
        while (lane.queue.length > maxQueueSize || lane.bytes > maxQueueBytes) settle(lane, take(lane, 1), 'queue_overflow')
      }
      // Due debounceTime after this call, at most flushInterval after the first of the batch.
      const now = Date.now()
      windowStart ??= now
      clearTimeout(batchTimer)
      batchTimer = setTimeout(
        () => {
          windowStart = undefined
          markDue(seq)
        },
        Math.min(debounceTime, windowStart + flushInterval - now),
      )
      return activity.id
    },
    flush,
    shutdown({ timeoutMs = 10_000 }: ShutdownOptions = {}) {
      return (shutdownPromise ??= (async () => {
        closed = true
        const delivered = await flush(timeoutMs)
        stopped = true
        clearTimeout(batchTimer)
        for (const lane of lanes) {
          clearTimeout(lane.retry)
          lane.abort?.abort()
          const left = [...(lane.flight ?? []), ...take(lane, Infinity)]
          lane.flight = undefined
          // Still in storage: the next page sends them.
          if (left.length > 0) drop('shutdown', left.length, lane.sink.name)
        }
        counters.queued = 0
        for (const waiter of waiters) waiter.resolve(false)
        // Out of time, delivery is stuck, maybe on a storage that never loaded (a blocked IndexedDB):
        // its last writes are queued, not waited for.
        if (delivered) await persist()
        // close() may throw, reject or return nothing.
        for (const closing of [...options.sinks, storage]) await Promise.resolve().then(() => closing.close?.()).catch(report)
        return delivered
      })())
    },
    stats: () => ({ ...counters, droppedByReason: { ...counters.droppedByReason } }),
    pause() {
      paused = true
    },
    resume() {
      paused = false
      lanes.forEach(pump)
    },
  }
}
