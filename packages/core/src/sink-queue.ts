import type { Activity } from './activity'
import { backoffDelay } from './backoff'
import { createDeque } from './deque'
import { SinkError, UserTrackingError } from './errors'
import type { DropReason, ResolvedTrackerOptions } from './options'
import type { Sink, SinkResult } from './sink'
import { unref } from './unref'

/** One accepted activity, shared by the queues of every sink. */
export interface Entry {
  activity: Activity
  /** Order of acceptance; activities read back from storage get lower numbers so they sort first. */
  seq: number
  /** Estimated bytes of its JSON, for the byte bounds. */
  bytes: number
  /** Sinks that have not settled it yet. */
  pendingSinks: number
  /** Whether storage holds it; an activity is sent only once it is persisted (write-ahead). */
  persisted: boolean
}

/** What a sink queue tells the tracker. */
export interface SinkQueueHooks {
  /** Whether a write may start (the tracker is not paused). */
  canSend(): boolean
  /** The sink is done with `entries`: delivered when `reason` is undefined, given up on otherwise. */
  settled(entries: Entry[], reason?: DropReason, error?: unknown): void
  /** `count` activities go out again after a retryable failure. */
  retried(count: number): void
  /** A background error. */
  error(error: unknown): void
  /** Debug output. */
  debug(message: string, detail?: unknown): void
}

/** The delivery queue of one sink; see {@link createSinkQueue}. */
export interface SinkQueue {
  readonly sink: Sink
  /** Queues an entry behind the others (the path of every `track()`). */
  push(entry: Entry): void
  /** Queues entries behind the others, or in front of them (older ones read back from storage). */
  add(entries: Entry[], front: boolean): void
  /** The oldest entry this sink has not settled, in flight or queued. */
  first(): Entry | undefined
  /** Makes everything up to `seq` due now, whatever the batch size. */
  due(seq: number): void
  /** Starts a write if one may start. */
  pump(): void
  /** Abandons a write older than `writeTimeoutMs` by the clock `now`, for platforms whose timers die. */
  check(now: number): void
  /** Arms a timer, in the caller's context, for the deadline of the write in flight or of the retry. */
  watch(): void
  /** Aborts the write in flight and returns every entry not settled. */
  stop(): Entry[]
}

/**
 * Aborts a write, best effort. On Cloudflare Workers a write started during another request
 * belongs to that request: aborting it from this one throws ("Cannot perform I/O on behalf of a
 * different request"), and the request that owned it has ended and cancelled it anyway.
 */
function abortQuietly(controller: AbortController | undefined, reason: unknown): void {
  try {
    controller?.abort(reason)
  } catch {
    // See above: nothing is left to abort.
  }
}

/** The answers a sink may give; anything else is a broken sink, retried as a retryable failure. */
const SINK_RESULT_TYPES = new Set<unknown>(['success', 'retryable', 'failure', 'too_large'] satisfies SinkResult['type'][])

/** Writes that must succeed in a row before a halved batch limit doubles again. */
const GROW_AFTER = 8

function bytesOf(entries: Entry[]): number {
  let bytes = 0
  for (const entry of entries) bytes += entry.bytes
  return bytes
}

/**
 * The delivery queue of one sink: batching by count and bytes, one write in flight, retry with
 * exponential backoff and full jitter (`Retry-After` honoured), a failed batch back at the front so
 * order holds, halving on `too_large` with a gradual return to full size, the write timeout, and,
 * when `trim` is set (no paging storage), the memory bounds with the oldest dropped.
 *
 * @param sink - where this queue delivers.
 * @param config - the tracker's resolved options.
 * @param hooks - how it reports back.
 * @param trim - whether it enforces `maxQueueSize` / `maxQueueBytes` itself.
 */
export function createSinkQueue(sink: Sink, config: ResolvedTrackerOptions, hooks: SinkQueueHooks, trim: boolean): SinkQueue {
  const name = sink.name
  const queue = createDeque<Entry>()
  let queuedBytes = 0
  let inFlight: Entry[] | undefined
  let controller: AbortController | undefined
  let writeTimer: ReturnType<typeof setTimeout> | undefined
  let sentAt = 0
  // Bumped when a write is abandoned, so its late answer is ignored.
  let generation = 0
  let dueSeq = 0
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  let retryAt = 0
  // Retries of the batch at the front; reset when a batch settles.
  let attempt = 0
  let firstFailureAt: number | undefined
  // The batch limits, halved on too_large and grown back gradually.
  let sizeLimit = config.batchSize
  let byteLimit = config.maxBatchBytes
  let successes = 0
  let stopped = false
  /** The timers `watch()` armed, each in its caller's context; cleared at `stop()`. */
  const watchers = new Set<ReturnType<typeof setTimeout>>()

  function take(): Entry {
    const entry = queue.shift()!
    queuedBytes -= entry.bytes
    return entry
  }

  function pump(): void {
    if (stopped || inFlight || !hooks.canSend()) return
    if (retryTimer !== undefined) {
      // A platform that cancels the timers of a finished request (Cloudflare Workers) never fires
      // this one: the clock decides too.
      if (Date.now() < retryAt) return
      clearTimeout(retryTimer)
      retryTimer = undefined
    }
    const front = queue.peek()
    if (!front?.persisted) return
    if (queue.length < sizeLimit && queuedBytes < byteLimit && front.seq > dueSeq) return
    const batch: Entry[] = []
    let bytes = 0
    for (let next = queue.peek(); next?.persisted && batch.length < sizeLimit; next = queue.peek()) {
      // A single activity over the byte limit still goes, alone.
      if (batch.length > 0 && bytes + next.bytes > byteLimit) break
      bytes += next.bytes
      batch.push(take())
    }
    void send(batch, bytes)
  }

  async function send(batch: Entry[], bytes: number): Promise<void> {
    const id = ++generation
    inFlight = batch
    sentAt = Date.now()
    const abort = (controller = new AbortController())
    writeTimer = unref(setTimeout(abandon, config.writeTimeoutMs))
    let result: SinkResult
    try {
      result = await sink.write(
        batch.map((entry) => entry.activity),
        { signal: abort.signal },
      )
      if (!SINK_RESULT_TYPES.has(result?.type)) throw new SinkError(name, 'write() returned no SinkResult.')
      // Read here, not after: a throw in `handle` would lose the batch, taken off the queue already.
      if (result.type === 'success' && result.rejected !== undefined && !(Array.isArray(result.rejected) && result.rejected.every((item) => typeof item?.id === 'string'))) {
        throw new SinkError(name, 'write() returned `rejected` that is not a list of { id, error }.')
      }
    } catch (error) {
      hooks.error(UserTrackingError.isInstance(error) ? error : new SinkError(name, 'write() threw.', error))
      result = { type: 'retryable', error }
    }
    // Abandoned (timed out) or stopped meanwhile: its batch is already accounted for.
    if (id !== generation || stopped) return
    finish(batch, bytes, result)
  }

  function finish(batch: Entry[], bytes: number, result: SinkResult): void {
    clearTimeout(writeTimer)
    inFlight = undefined
    controller = undefined
    handle(batch, bytes, result)
    pump()
  }

  /** Stops waiting for the write in flight: it took longer than `writeTimeoutMs`. */
  function abandon(): void {
    if (!inFlight) return
    const error = new SinkError(name, `Write timed out after ${config.writeTimeoutMs} ms.`)
    abortQuietly(controller, error)
    generation++
    finish(inFlight, bytesOf(inFlight), { type: 'retryable', error })
  }

  function handle(batch: Entry[], bytes: number, result: SinkResult): void {
    let reason: DropReason | undefined
    switch (result.type) {
      case 'success': {
        if (++successes >= GROW_AFTER) {
          successes = 0
          sizeLimit = Math.min(config.batchSize, sizeLimit * 2)
          byteLimit = Math.min(config.maxBatchBytes, byteLimit * 2)
        }
        const rejected = new Map((result.rejected ?? []).map((item) => [item.id, item.error]))
        if (rejected.size > 0) {
          hooks.settled(
            batch.filter((entry) => rejected.has(entry.activity.id)),
            'rejected',
            new SinkError(name, [...rejected.values()].join('; ')),
          )
          batch = batch.filter((entry) => !rejected.has(entry.activity.id))
        }
        hooks.debug(`[${name}] Sent ${batch.length} activities.`)
        break
      }
      case 'too_large':
        if (batch.length > 1) {
          // The limit learned holds for the next batches too, until writes succeed again.
          sizeLimit = Math.ceil(batch.length / 2)
          byteLimit = Math.max(1, Math.floor(bytes / 2))
          successes = 0
          requeue(batch)
          return
        }
        reason = 'too_large'
        break
      case 'failure':
        reason = 'permanent_failure'
        break
      case 'retryable': {
        const now = Date.now()
        attempt++
        firstFailureAt ??= now
        const deadline = firstFailureAt + config.maxRetryTimeMs
        if (attempt > config.maxRetries || now >= deadline) {
          reason = 'retries_exhausted'
          break
        }
        const delay = Math.min(result.retryInMs ?? backoffDelay(attempt, config.retryBaseDelayMs, config.retryMaxDelayMs), deadline - now)
        hooks.debug(`[${name}] Retry ${attempt} in ${delay} ms.`, result.error)
        hooks.retried(batch.length)
        requeue(batch)
        retryAt = now + delay
        retryTimer = unref(
          setTimeout(() => {
            retryTimer = undefined
            pump()
          }, delay),
        )
        return
      }
    }
    // Settled, delivered or not: the next batch starts with a fresh retry budget.
    attempt = 0
    firstFailureAt = undefined
    hooks.settled(batch, reason, reason && (result as { error?: unknown }).error)
  }

  // Back to the front, and due at once: the batch was due when it went out.
  function requeue(batch: Entry[]): void {
    queue.unshiftAll(batch)
    queuedBytes += bytesOf(batch)
    dueSeq = Math.max(dueSeq, batch[batch.length - 1]!.seq)
  }

  // The oldest make room: they have waited longest, and what is newest tells most about now.
  function trimOverflow(): void {
    while (queue.length > config.maxQueueSize || queuedBytes > config.maxQueueBytes) hooks.settled([take()], 'queue_overflow')
  }

  function check(now: number): void {
    if (inFlight && now - sentAt >= config.writeTimeoutMs) abandon()
  }

  return {
    sink,
    push(entry) {
      queue.push(entry)
      queuedBytes += entry.bytes
      if (trim) trimOverflow()
    },
    add(entries, front) {
      if (front) queue.unshiftAll(entries)
      else for (const entry of entries) queue.push(entry)
      queuedBytes += bytesOf(entries)
      if (trim) trimOverflow()
    },
    first: () => inFlight?.[0] ?? queue.peek(),
    due(seq) {
      dueSeq = Math.max(dueSeq, seq)
    },
    pump,
    check,
    watch() {
      // A flush() that resumes after shutdown must not arm a timer no one clears.
      if (stopped) return
      const deadline = inFlight ? sentAt + config.writeTimeoutMs : retryTimer === undefined ? undefined : retryAt
      if (deadline === undefined) return
      const timer = unref(
        setTimeout(
          () => {
            watchers.delete(timer)
            check(Date.now())
            pump()
          },
          Math.max(0, deadline - Date.now()),
        ),
      )
      watchers.add(timer)
    },
    stop() {
      stopped = true
      clearTimeout(retryTimer)
      retryTimer = undefined
      clearTimeout(writeTimer)
      for (const timer of watchers) clearTimeout(timer)
      watchers.clear()
      abortQuietly(controller, new SinkError(name, 'Aborted by shutdown().'))
      const left = inFlight ?? []
      inFlight = undefined
      while (queue.length > 0) left.push(take())
      return left
    },
  }
}
