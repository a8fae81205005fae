import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { backoffDelay, createLogger, unref, type Activity, type Logger, type SinkResult, type Store } from '@usertracking/core'
import { positiveOption, requireOption } from './check-option'
import { command, duplicateClient, replyCode, whenReady, withTimeout, type RedisClient } from './client'
import { streamKeys, type StreamKeyOptions } from './keys'
import { ACTIVITY_FIELD, decodeEntries, readReplyEntries, type StreamEntry } from './stream-entry'

/** Options of {@link createStreamWorker}. Each default is chosen so that a store outage costs nothing but time. */
export interface StreamWorkerOptions extends StreamKeyOptions {
  /**
   * The app's ioredis client (`Redis` or `Cluster`). The worker sends its short commands on it and
   * opens one connection of its own (`client.duplicate()`) for its blocking reads, which `stop()`
   * closes.
   */
  client: RedisClient
  /** Where the activities go: the worker writes through `store.sink`, which must be idempotent by id (every built-in store is). */
  store: Pick<Store, 'name' | 'sink'>
  /** The consumer group; workers in one group share the stream, each entry going to one of them. @default 'usertracking' */
  group?: string
  /** This worker's name in the group. @default `<hostname>-<pid>-<random>`, unique per start */
  consumer?: string
  /** Entries read, and activities written to the store, at a time. @default 500 */
  batchSize?: number
  /** Batches being written to the store at once; the next is read while one is written. @default 2 */
  concurrency?: number
  /** How long one read waits on an empty stream, in ms; also about how long a stop waits for it. @default 1000 */
  blockMs?: number
  /**
   * How long an entry may sit unacknowledged under a consumer before another worker takes it over
   * (`XAUTOCLAIM`), in ms: a worker that crashed or hangs. A live worker keeps the entries it works
   * on (even through a long store outage) by touching them every third of this.
   * @default 60000
   */
  claimIdleMs?: number
  /**
   * Deliveries after which an entry that no worker acknowledged goes to the dead-letter stream
   * instead of being tried again: an activity that crashes or hangs every worker that takes it.
   * @default 5
   */
  maxDeliveries?: number
  /** Most entries kept in the dead-letter stream (`MAXLEN ~`). @default 100000 */
  deadLetterMaxLength?: number
  /** Time limit of one store write, in ms; a slower write is aborted and retried. @default 30000 */
  storeTimeoutMs?: number
  /** Time limit of one Redis command (a blocking read gets `blockMs` more), in ms. @default 5000 */
  commandTimeoutMs?: number
  /** Upper bound of the first retry's random delay after a failed store write or Redis command, in ms; it doubles per retry. @default 500 */
  retryBaseDelayMs?: number
  /** Upper bound of any retry's delay, in ms. @default 10000 */
  retryMaxDelayMs?: number
  /** Where warnings (store or Redis unavailable, entries dead-lettered) and errors go. @default console */
  logger?: Logger
}

/** Counts since the worker started. */
export interface StreamWorkerStats {
  /** Entries taken off the stream: new ones, this consumer's earlier ones and claimed ones. */
  read: number
  /** Activities the store acknowledged (and the worker then acknowledged to Redis). */
  stored: number
  /** Activities the store refused for their content (its `rejected` list), acknowledged and dropped. */
  rejected: number
  /** Entries taken over from a consumer that stopped acknowledging them. */
  claimed: number
  /** Entries moved to the dead-letter stream: unreadable, refused by the store as a batch of one, or delivered `maxDeliveries` times. */
  deadLettered: number
  /** Entries trimmed or deleted from the stream by another client while still pending, found when claiming them: lost before any store held them. */
  trimmed: number
  /** Store writes that failed and were tried again. */
  retries: number
}

/** A running worker; see {@link createStreamWorker}. */
export interface StreamWorker {
  /** This worker's consumer name in the group. */
  readonly consumer: string
  /** Resolves once the consumer group exists and the worker reads (or once it stopped first). Never rejects. */
  readonly started: Promise<void>
  /** What the worker did so far. */
  stats(): StreamWorkerStats
  /**
   * Stops reading, finishes the batches in hand (written and acknowledged), closes the worker's own
   * connection and leaves the group when it holds no entry. Batches still unfinished after
   * `timeoutMs` stay pending in Redis for another worker to claim. Safe to call twice.
   *
   * @param options - `timeoutMs`: how long to wait for the batches in hand. @default 10000
   */
  stop(options?: { timeoutMs?: number }): Promise<void>
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = unref(setTimeout(done, ms))
    signal.addEventListener('abort', done)
  })
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * Drains a Redis Stream filled by {@link redisStreamSink} into a store: reads batches as a member of
 * a consumer group, writes each through `store.sink`, and acknowledges (`XACK`) an entry only after
 * the store acknowledged it, so a crash at any point loses nothing (a batch written but not
 * acknowledged is written again, and the store's id dedupe absorbs it).
 *
 * - Retryable store failures are retried with backoff for as long as it takes, the entries held.
 * - A batch the store refuses as a whole is split until the activity it cannot take is alone; that
 *   one goes to the dead-letter stream (`<stream>:dead-letter`) with the reason, beside unreadable
 *   entries and entries delivered `maxDeliveries` times. Activities the store lists as `rejected`
 *   are dropped (acknowledged, counted): the store refused them on purpose (a deleted person).
 * - Entries a dead or hung consumer left pending longer than `claimIdleMs` are claimed (`XAUTOCLAIM`).
 * - Several workers (in several processes) share a stream by using the same `group`.
 *
 * The worker starts at once; call `stop()` before the process exits.
 *
 * @param options - the client, the store and the limits; see {@link StreamWorkerOptions}.
 * @throws TypeError naming the option when an option is invalid.
 */
export function createStreamWorker(options: StreamWorkerOptions): StreamWorker {
  const client = requireOption(options.client, 'client', 'an ioredis Redis or Cluster client')
  const store = requireOption(options.store, 'store', 'the store to drain the stream into')
  const keys = streamKeys(options)
  const group = options.group ?? 'usertracking'
  const consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`
  const batchSize = positiveOption(options.batchSize, 'batchSize', 500, true)
  const concurrency = positiveOption(options.concurrency, 'concurrency', 2, true)
  const blockMs = positiveOption(options.blockMs, 'blockMs', 1000, true)
  const claimIdleMs = positiveOption(options.claimIdleMs, 'claimIdleMs', 60_000, true)
  const maxDeliveries = positiveOption(options.maxDeliveries, 'maxDeliveries', 5, true)
  const deadLetterMaxLength = positiveOption(options.deadLetterMaxLength, 'deadLetterMaxLength', 100_000, true)
  const storeTimeoutMs = positiveOption(options.storeTimeoutMs, 'storeTimeoutMs', 30_000)
  const commandTimeoutMs = positiveOption(options.commandTimeoutMs, 'commandTimeoutMs', 5000)
  const retryBaseDelayMs = positiveOption(options.retryBaseDelayMs, 'retryBaseDelayMs', 500)
  const retryMaxDelayMs = positiveOption(options.retryMaxDelayMs, 'retryMaxDelayMs', 10_000)
  const log = options.logger ? createLogger(options.logger) : createLogger(true)
  const label = `[redis] Worker ${consumer} on ${keys.stream}`

  const counts: StreamWorkerStats = { read: 0, stored: 0, rejected: 0, claimed: 0, deadLettered: 0, trimmed: 0, retries: 0 }
  /** Aborted by stop(): ends sleeps and the read loop. */
  const stopping = new AbortController()
  /** Aborted when stop() gives up waiting: ends store writes and retries of batches in hand. */
  const abandon = new AbortController()
  const inFlight = new Set<Promise<void>>()
  let reader: RedisClient | undefined
  let reading = false
  let claimCursor = '0-0'
  let lastClaimAt = 0
  let storeFailing = false
  let redisFailing = false

  const redis = (name: string, args: (string | number)[]) => command(client, commandTimeoutMs, name, args)

  function redisFailed(error: unknown, what: string): void {
    if (!redisFailing) log.warn(`${label}: ${what} failed; retrying until Redis answers. ${message(error)}`)
    redisFailing = true
  }

  function redisAnswered(): void {
    if (redisFailing) log.warn(`${label}: Redis answers again.`)
    redisFailing = false
  }

  /** Runs a Redis command until it succeeds, or until the worker gives up its batches. */
  async function untilDone<T>(what: string, run: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await run()
        redisAnswered()
        return result
      } catch (error) {
        redisFailed(error, what)
        if (abandon.signal.aborted) return undefined
        await sleep(backoffDelay(attempt, retryBaseDelayMs, retryMaxDelayMs), abandon.signal)
      }
    }
  }

  async function ensureGroup(): Promise<void> {
    try {
      // From the start of the stream: what the sink appended before any worker ran is backlog too.
      await redis('XGROUP', ['CREATE', keys.stream, group, '0', 'MKSTREAM'])
    } catch (error) {
      if (replyCode(error) !== 'BUSYGROUP') throw error
    }
  }

  async function acknowledge(entries: StreamEntry[]): Promise<void> {
    if (entries.length === 0) return
    await untilDone('XACK', () => redis('XACK', [keys.stream, group, ...entries.map((entry) => entry.id)]))
  }

  /** Moves entries to the dead-letter stream and acknowledges them, in one transaction (one slot, thanks to the hash tag). */
  async function deadLetter(entries: StreamEntry[], reason: string): Promise<void> {
    if (entries.length === 0) return
    const moved = await untilDone('Dead-lettering', async () => {
      const transaction = client.multi()
      for (const entry of entries) {
        const at = entry.fields.indexOf(ACTIVITY_FIELD)
        const activity = at >= 0 ? (entry.fields[at + 1] ?? '') : JSON.stringify(entry.fields)
        transaction.xadd(keys.deadLetter, 'MAXLEN', '~', deadLetterMaxLength, '*', ACTIVITY_FIELD, activity, 'entry', entry.id, 'group', group, 'consumer', consumer, 'reason', reason)
      }
      transaction.xack(keys.stream, group, ...entries.map((entry) => entry.id))
      const results = await withTimeout(transaction.exec(), commandTimeoutMs, 'MULTI')
      const failed = results?.find(([error]) => error)
      if (!results || failed) throw failed?.[0] ?? new Error('The transaction was aborted.')
      return true
    })
    if (!moved) return
    counts.deadLettered += entries.length
    log.warn(`${label}: moved ${entries.length} entries to ${keys.deadLetter}: ${reason}`)
  }

  /** Touches entries this worker holds, so no other worker claims them while it waits on the store. */
  function hold(entries: StreamEntry[]): () => void {
    const timer = setInterval(() => {
      redis('XCLAIM', [keys.stream, group, consumer, 0, ...entries.map((entry) => entry.id), 'JUSTID']).catch((error: unknown) => redisFailed(error, 'Keeping entries claimed'))
    }, Math.max(1, Math.floor(claimIdleMs / 3)))
    unref(timer)
    return () => clearInterval(timer)
  }

  /** The batch's activities, each id once: a client that retried an append may have put an activity in the stream twice. */
  function uniqueActivities(entries: StreamEntry[]): Activity[] {
    const byId = new Map<string, Activity>()
    for (const entry of entries) byId.set(entry.activity!.id, entry.activity!)
    return [...byId.values()]
  }

  async function writeOnce(entries: StreamEntry[]): Promise<SinkResult> {
    const controller = new AbortController()
    const onAbandon = () => controller.abort(abandon.signal.reason)
    abandon.signal.addEventListener('abort', onAbandon)
    const timer = unref(setTimeout(() => controller.abort(new Error(`The ${store.name} store did not answer within ${storeTimeoutMs} ms.`)), storeTimeoutMs))
    try {
      const write = store.sink.write(uniqueActivities(entries), { signal: controller.signal })
      const aborted = new Promise<SinkResult>((resolve) =>
        controller.signal.addEventListener('abort', () => resolve({ type: 'retryable', error: controller.signal.reason }), { once: true }),
      )
      // A write that ignores its signal is not waited for past the time limit; its late failure is swallowed.
      write.catch(() => {})
      return await Promise.race([write, aborted])
    } catch (error) {
      return { type: 'retryable', error }
    } finally {
      clearTimeout(timer)
      abandon.signal.removeEventListener('abort', onAbandon)
    }
  }

  /** Writes entries to the store until it takes them or refuses them for good; then acknowledges or dead-letters them. */
  async function deliver(entries: StreamEntry[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const result = await writeOnce(entries)
      switch (result.type) {
        case 'success': {
          if (storeFailing) log.warn(`${label}: the ${store.name} store takes writes again.`)
          storeFailing = false
          const refused = new Map((result.rejected ?? []).map((item) => [item.id, item.error]))
          const dropped = entries.filter((entry) => refused.has(entry.activity!.id)).length
          if (dropped > 0) {
            counts.rejected += dropped
            log.warn(`${label}: the ${store.name} store refused ${dropped} activities: ${[...new Set(refused.values())].join('; ')}`)
          }
          counts.stored += entries.length - dropped
          await acknowledge(entries)
          return
        }
        case 'too_large':
        case 'failure': {
          if (entries.length === 1) {
            await deadLetter(entries, `The ${store.name} store refused it${result.type === 'too_large' ? ' as too large' : ''}: ${message(result.error)}`)
            return
          }
          // Halves until the activity the store cannot take is alone, so the rest of its batch is stored.
          const half = Math.ceil(entries.length / 2)
          await deliver(entries.slice(0, half))
          await deliver(entries.slice(half))
          return
        }
        case 'retryable': {
          if (abandon.signal.aborted) return
          if (!storeFailing) log.warn(`${label}: the ${store.name} store failed; retrying until it takes the batch. ${message(result.error)}`)
          storeFailing = true
          counts.retries++
          await sleep(result.retryInMs ?? backoffDelay(attempt, retryBaseDelayMs, retryMaxDelayMs), abandon.signal)
          if (abandon.signal.aborted) return
        }
      }
    }
  }

  async function handle(entries: StreamEntry[]): Promise<void> {
    const release = hold(entries)
    try {
      const unreadable = entries.filter((entry) => entry.activity === undefined)
      await deadLetter(unreadable, 'The entry holds no activity this worker can read.')
      const readable = entries.filter((entry) => entry.activity !== undefined)
      if (readable.length > 0) await deliver(readable)
    } finally {
      release()
    }
  }

  function dispatch(entries: StreamEntry[]): Promise<void> {
    const task: Promise<void> = handle(entries)
      .catch((error: unknown) => log.error(`${label}: a batch failed; its entries stay pending for a later claim.`, error))
      .finally(() => inFlight.delete(task))
    inFlight.add(task)
    return task
  }

  /** Entries other consumers left pending for longer than `claimIdleMs`; those delivered too often go to the dead-letter stream. */
  async function claimAbandoned(): Promise<StreamEntry[]> {
    const reply = (await redis('XAUTOCLAIM', [keys.stream, group, consumer, claimIdleMs, claimCursor, 'COUNT', batchSize])) as unknown[]
    claimCursor = typeof reply[0] === 'string' ? reply[0] : '0-0'
    const deleted = Array.isArray(reply[2]) ? reply[2].length : 0
    if (deleted > 0) {
      counts.trimmed += deleted
      log.error(`${label}: ${deleted} pending entries were trimmed or deleted from the stream before any worker stored them (by a client other than redisStreamSink, which trims only what every group acknowledged).`)
    }
    const entries = decodeEntries(reply[1])
    if (entries.length === 0) return []
    counts.claimed += entries.length
    const pending = (await redis('XPENDING', [keys.stream, group, entries[0]!.id, entries.at(-1)!.id, entries.length + batchSize * concurrency, consumer])) as unknown[]
    const deliveries = new Map<string, number>()
    for (const row of pending) if (Array.isArray(row)) deliveries.set(String(row[0]), Number(row[3]))
    const exhausted = entries.filter((entry) => (deliveries.get(entry.id) ?? 0) > maxDeliveries)
    await deadLetter(exhausted, `Delivered more than ${maxDeliveries} times without being acknowledged: each worker that took it crashed or hung.`)
    return entries.filter((entry) => !exhausted.includes(entry))
  }

  async function read(id: '0' | '>'): Promise<StreamEntry[]> {
    const blocking = reader!
    const args = ['GROUP', group, consumer, 'COUNT', batchSize, ...(id === '>' ? ['BLOCK', blockMs] : []), 'STREAMS', keys.stream, id]
    reading = true
    try {
      await whenReady(blocking, commandTimeoutMs, stopping.signal)
      const reply = await command(blocking, blockMs + commandTimeoutMs, 'XREADGROUP', args)
      return readReplyEntries(reply)
    } finally {
      reading = false
    }
  }

  async function loop(markStarted: () => void): Promise<void> {
    reader = duplicateClient(client, true)
    reader.on('error', (error: unknown) => redisFailed(error, 'The read connection'))
    let started = false
    // First this consumer's own entries from an earlier run (a stable `consumer` name), then new ones.
    let history = true
    for (let attempt = 1; !stopping.signal.aborted; ) {
      try {
        if (!started) {
          await ensureGroup()
          started = true
          markStarted()
        }
        if (!history && (claimCursor !== '0-0' || Date.now() - lastClaimAt >= claimIdleMs / 2)) {
          lastClaimAt = Date.now()
          const claimed = await claimAbandoned()
          counts.read += claimed.length
          if (claimed.length > 0) await dispatch(claimed)
        }
        const entries = await read(history ? '0' : '>')
        redisAnswered()
        attempt = 1
        counts.read += entries.length
        if (history) {
          if (entries.length === 0) history = false
          // Serially: a later read of '0' returns what is still pending, in-flight batches included.
          else await dispatch(entries)
          continue
        }
        if (entries.length === 0) continue
        void dispatch(entries)
        if (inFlight.size >= concurrency) await Promise.race(inFlight)
      } catch (error) {
        if (stopping.signal.aborted) break
        redisFailed(error, started ? 'Reading the stream' : 'Creating the consumer group')
        await sleep(backoffDelay(attempt++, retryBaseDelayMs, retryMaxDelayMs), stopping.signal)
      }
    }
    markStarted()
  }

  let markStarted!: () => void
  const started = new Promise<void>((resolve) => (markStarted = resolve))
  const running = loop(markStarted).catch((error: unknown) => log.error(`${label}: the worker stopped on an unexpected error.`, error))
  let stopped: Promise<void> | undefined

  async function shutdown(timeoutMs: number): Promise<void> {
    stopping.abort()
    // A read blocked on an empty stream would hold the stop for up to blockMs: cut it. Entries Redis
    // delivered in that instant stay pending under this consumer and are claimed later.
    if (reading) reader?.disconnect()
    const finished = (async () => {
      await running
      await Promise.all(inFlight)
    })()
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([finished, new Promise<void>((resolve) => (timer = unref(setTimeout(resolve, timeoutMs))))])
    clearTimeout(timer)
    if (inFlight.size > 0) {
      abandon.abort(new Error(`${label} stopped.`))
      log.warn(`${label}: stopped with ${inFlight.size} batches unfinished; they stay pending for another worker.`)
      await Promise.all(inFlight)
    }
    reader?.disconnect()
    try {
      // Leave the group only with nothing pending: deleting a consumer drops its pending entries.
      const summary = (await redis('XPENDING', [keys.stream, group, '-', '+', 1, consumer])) as unknown[]
      if (summary.length === 0) await redis('XGROUP', ['DELCONSUMER', keys.stream, group, consumer])
    } catch {
      // Redis is away: the consumer stays listed, holding nothing; harmless.
    }
  }

  return {
    consumer,
    started,
    stats: () => ({ ...counts }),
    stop(stopOptions = {}) {
      stopped ??= shutdown(positiveOption(stopOptions.timeoutMs, 'timeoutMs', 10_000))
      return stopped
    },
  }
}
