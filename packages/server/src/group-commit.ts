import { monotonicNow, unref, type Activity, type RejectedActivity, type Sink, type SinkResult } from '@usertracking/core'
import { HttpError } from './errors'
import type { StoreCaller } from './store-call'

/**
 * How concurrent ingest requests share store writes; see `ActivityHandlerOptions.groupCommit`.
 * Every bound here is per handler (per process).
 */
export interface GroupCommitOptions {
  /**
   * Most activities in one write. Requests are never split: one larger than this (up to
   * `maxBatchSize`) is written alone.
   * @default 1000
   */
  maxActivities?: number
  /**
   * How long a write waits for more requests to join it while a write slot is free, in ms. At 0
   * the requests whose bodies were read in the same event-loop turn go together; under load,
   * requests gather while the writes ahead of them run, which needs no waiting at all.
   * @default 0
   */
  maxWaitMs?: number
  /**
   * Writes in flight at once, counted until each write settles: a write that outlived the store
   * time limit (its requests answered 503) keeps its slot until the store gives it up, so a stalled
   * store is never sent more. Requests that arrive while every slot is busy go together into the
   * next write; few slots make large writes (one commit each), many slots shorten the wait. Two
   * served single-activity ingest into PostgreSQL 22–33% faster than four, with a lower p99
   * (docs/benchmarks.md); one was about as fast again, but then a single write stuck on a dead
   * connection would hold every request until the store gives it up (node-postgres:
   * `queryTimeoutMs`, 30 s), while two leave a slot to the rest. Raise it for a store tens of
   * milliseconds away, where writes side by side drain a burst sooner.
   * @default 2
   */
  maxConcurrentWrites?: number
  /**
   * Activities waiting for a write slot, at most. Past it ingest answers 503 with `Retry-After: 1`,
   * so a slow store cannot make the queue grow without bound.
   * @default 10000
   */
  maxQueuedActivities?: number
}

/** One request's share of the writes: its activities, and how to answer it. */
interface Waiter {
  activities: Activity[]
  /** Answers 503 once it has waited for a slot as long as the store time limit. */
  expiry?: ReturnType<typeof setTimeout>
  resolve(result: SinkResult): void
  reject(error: unknown): void
}

/** Writes ingest requests' activities, several requests to one store write. */
export interface GroupCommit {
  /**
   * Writes one request's activities, in the same store write as other requests waiting at the
   * same time. Resolves once that write has settled, with this request's own result (`rejected`
   * lists only its activities); rejects with an `HttpError` (503) when the store fails, stalls,
   * or the queue is full.
   */
  write(activities: Activity[]): Promise<SinkResult>
}

/** What the handler's metrics are told about the queue and the writes. */
export interface GroupCommitObserver {
  /** How many activities joined (positive) or left (negative) the queue. */
  queued(by: number): void
  /**
   * One store write settled (stored, refused, or given up at the store time limit): how many
   * activities it held and how long it took, in seconds. A coalesced write the store refused as a
   * whole is one write, and each request's own retry another.
   */
  wrote(activities: number, seconds: number): void
}

/** The numbers of {@link GroupCommitOptions} once checked, or `false` for one write per request. */
export type GroupCommitLimits = Required<GroupCommitOptions> | false

const DEFAULTS: Required<GroupCommitOptions> = { maxActivities: 1000, maxWaitMs: 0, maxConcurrentWrites: 2, maxQueuedActivities: 10_000 }

/**
 * Checks `options.groupCommit`.
 *
 * @throws TypeError naming the option when a bound is not a positive number (`maxWaitMs` may be 0).
 */
export function groupCommitLimits(option: GroupCommitOptions | false | undefined): GroupCommitLimits {
  if (option === false) return false
  const limits = { ...DEFAULTS }
  for (const name of Object.keys(DEFAULTS) as (keyof GroupCommitOptions)[]) {
    const value = option?.[name]
    if (value === undefined) continue
    const valid = typeof value === 'number' && Number.isFinite(value) && (name === 'maxWaitMs' ? value >= 0 : value >= 1)
    if (!valid) {
      throw new TypeError(
        `[usertracking] [server] options.groupCommit.${name} must be ${name === 'maxWaitMs' ? 'a number of milliseconds, 0 or more' : 'a positive number'}; got ${String(value)}.`,
      )
    }
    limits[name] = value
  }
  return limits
}

/** Runs `callback` after the I/O callbacks of this event-loop turn (`setImmediate` where there is one). */
const afterIo: (callback: () => void) => void =
  typeof setImmediate === 'function' ? (callback) => void setImmediate(callback) : (callback) => void setTimeout(callback, 0)

/** The activities of several requests as one batch, each id once (a client's retry may overlap its first try). */
function merge(waiters: readonly Waiter[]): Activity[] {
  if (waiters.length === 1) return waiters[0]!.activities
  const seen = new Set<string>()
  const batch: Activity[] = []
  for (const waiter of waiters) {
    for (const activity of waiter.activities) {
      if (seen.has(activity.id)) continue
      seen.add(activity.id)
      batch.push(activity)
    }
  }
  return batch
}

/** A request's part of a result: a `rejected` list narrowed to its own activities. */
function shareOf(result: SinkResult, waiter: Waiter, refused: Map<string, RejectedActivity> | undefined): SinkResult {
  if (!refused) return result
  const own: RejectedActivity[] = []
  for (const activity of waiter.activities) {
    const entry = refused.get(activity.id)
    if (entry) own.push(entry)
  }
  return own.length > 0 ? { type: 'success', rejected: own } : { type: 'success' }
}

/**
 * Group commit for ingest: requests that overlap in time share one `sink.write`, so a database
 * commits (and flushes its log) once for many small requests instead of once each. Each request
 * is answered when the write holding its activities has settled, with its own result; nothing is
 * acknowledged before it is stored.
 *
 * A write runs at once when a slot is free (after the current event-loop turn, or `maxWaitMs`);
 * otherwise requests queue and the next free slot takes as many as fit in `maxActivities`. A
 * coalesced write the store refuses as a whole (`too_large`, `failure`) is retried request by
 * request, so one request's bad batch cannot fail the others. A request that has waited for a slot
 * as long as the store time limit is answered 503 instead of being written late; a slot is free
 * again only once its write settled, even when its requests were answered 503 at the time limit.
 *
 * @param sink - where activities go (the store's sink, or another the handler was given).
 * @param limits - the checked options, or `false` for one write per request.
 * @param storeCaller - runs each write within the store time limit.
 * @param timeoutMs - the store time limit, also the longest a request waits in the queue.
 * @param onError - receives each failed write's error once, however many requests it held.
 * @param observer - told of the queue's changes and of each write (the handler's metrics).
 */
export function createGroupCommit(
  sink: Sink,
  limits: GroupCommitLimits,
  storeCaller: StoreCaller,
  timeoutMs: number,
  onError: (error: unknown) => void,
  observer?: GroupCommitObserver,
): GroupCommit {
  const queueChanged = (by: number) => observer?.queued(by)

  async function commit(waiters: Waiter[]): Promise<void> {
    let result: SinkResult
    let written: Promise<unknown> = Promise.resolve()
    let batch: Activity[] = []
    const started = monotonicNow()
    try {
      batch = merge(waiters)
      result = await storeCaller.run((signal) => (written = sink.write(batch, { signal })))
      observer?.wrote(batch.length, (monotonicNow() - started) / 1000)
    } catch (error) {
      observer?.wrote(batch.length, (monotonicNow() - started) / 1000)
      // The store caller reported it, and made it the 503 every one of these requests gets.
      for (const waiter of waiters) waiter.reject(error)
      // A write that outlived its time limit still holds a connection: its slot stays taken until
      // it settles, or a stalled store would be sent more writes than maxConcurrentWrites.
      await written.then(
        () => {},
        () => {},
      )
      return
    }
    if (waiters.length > 1 && (result.type === 'too_large' || result.type === 'failure')) {
      // Which request the store could not take is unknown: each is written on its own, one after
      // another within this slot, and gets its own answer.
      for (const waiter of waiters) await commit([waiter])
      return
    }
    if (result.type === 'retryable' || result.type === 'failure') {
      if (result.error !== undefined) onError(result.error)
    }
    const refused = result.type === 'success' && result.rejected?.length && waiters.length > 1 ? new Map(result.rejected.map((entry) => [entry.id, entry])) : undefined
    for (const waiter of waiters) waiter.resolve(shareOf(result, waiter, refused))
  }

  if (limits === false) {
    return {
      write(activities) {
        return new Promise((resolve, reject) => void commit([{ activities, resolve, reject }]).catch(onError))
      },
    }
  }

  const bounds = limits
  const queue: Waiter[] = []
  let queued = 0
  let inFlight = 0
  let scheduled = false

  function flush(): void {
    scheduled = false
    while (inFlight < bounds.maxConcurrentWrites && queue.length > 0) {
      let taken = 0
      let size = 0
      while (taken < queue.length && (taken === 0 || size + queue[taken]!.activities.length <= bounds.maxActivities)) {
        size += queue[taken]!.activities.length
        taken++
      }
      queued -= size
      queueChanged(-size)
      const waiters = queue.splice(0, taken)
      for (const waiter of waiters) clearTimeout(waiter.expiry)
      inFlight++
      void commit(waiters)
        .catch(onError)
        .finally(() => {
          inFlight--
          // Those still queued have waited for this slot already: no second wait.
          if (queue.length > 0) flush()
        })
    }
  }

  /** Answers 503 to a request that waited for a slot as long as the store time limit, instead of writing it late. */
  function expire(waiter: Waiter): void {
    const at = queue.indexOf(waiter)
    if (at < 0) return
    queue.splice(at, 1)
    queued -= waiter.activities.length
    queueChanged(-waiter.activities.length)
    waiter.reject(new HttpError(503, `The ${sink.name} store did not take these activities within ${timeoutMs} ms; try again.`, { headers: { 'retry-after': '5' } }))
  }

  function schedule(): void {
    if (scheduled || inFlight >= bounds.maxConcurrentWrites) return
    if (queued >= bounds.maxActivities) {
      flush()
      return
    }
    scheduled = true
    if (bounds.maxWaitMs > 0) unref(setTimeout(flush, bounds.maxWaitMs))
    else afterIo(flush)
  }

  return {
    write(activities) {
      if (queued > 0 && queued + activities.length > bounds.maxQueuedActivities) {
        return Promise.reject(
          new HttpError(503, `The ${sink.name} store is behind: ${queued} activities are waiting for it; try again.`, { headers: { 'retry-after': '1' } }),
        )
      }
      return new Promise((resolve, reject) => {
        const waiter: Waiter = { activities, resolve, reject }
        waiter.expiry = unref(setTimeout(() => expire(waiter), timeoutMs))
        queue.push(waiter)
        queued += activities.length
        queueChanged(activities.length)
        schedule()
      })
    },
  }
}
