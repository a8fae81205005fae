/**
 * The delivery behaviour a tracker promises, as one suite any implementation can run: core's
 * `createCanonicalTracker` and the browser's own delivery core both pass it, so a page keeps what a
 * server tracker promises. It covers write-ahead storage, recovery of what an earlier tracker left,
 * batching, retries with backoff, halving on `too_large`, drops (with their reasons and counts),
 * overflow, pause, flush and shutdown. Timers are vitest's fake ones: no test waits in real time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Activity, Sink, SinkResult, Storage, Tracker, TrackerOptions } from '@usertracking/core'

/** The options the suite sets; each implementation must read them with core's meanings. */
export type TrackerBehaviourOptions = Pick<TrackerOptions, 'sinks' | 'batchSize' | 'debounceTime' | 'flushInterval' | 'maxRetries' | 'maxQueueSize' | 'maxQueueBytes'> & {
  storage: Storage
}

/** What the suite uses of a tracker: core's {@link Tracker} but `on()`, with `flush()` answering a boolean. */
export type BehaviourTracker = Pick<Tracker, 'track' | 'stats' | 'pause' | 'resume' | 'shutdown'> & {
  flush(timeoutMs?: number): Promise<boolean>
}

/** A storage that keeps its records in a map and logs each activity it stores. */
function recordingStorage(log: string[]) {
  const records = new Map<string, Activity>()
  const storage: Storage = {
    async load() {
      return [...records.values()]
    },
    async add(activities) {
      for (const activity of activities) {
        log.push(`stored ${activity.activityType}`)
        records.set(activity.id, activity)
      }
    },
    async remove(ids) {
      for (const id of ids) records.delete(id)
    },
  }
  return { storage, records }
}

/** A sink that logs what it is given and answers as `answer` says (success by default). */
function scriptedSink(log: string[], answer: (batch: Activity[], write: number, signal: AbortSignal) => SinkResult | Promise<SinkResult> = () => ({ type: 'success' })) {
  const writes: { types: string[]; at: number }[] = []
  const sink: Sink = {
    name: 'scripted',
    async write(batch, { signal }) {
      log.push(...batch.map((activity) => `sent ${activity.activityType}`))
      writes.push({ types: batch.map((activity) => activity.activityType), at: Date.now() })
      return answer(batch, writes.length, signal)
    },
  }
  return { sink, writes, delivered: () => writes.flatMap((write) => write.types) }
}

/**
 * Registers the tracker behaviour suite.
 *
 * @param name - names the implementation in the test titles.
 * @param create - makes a tracker from the options each test sets.
 */
export function describeTrackerBehaviour(name: string, create: (options: TrackerBehaviourOptions) => BehaviourTracker): void {
  describe(`Tracker behaviour: ${name}`, () => {
    let log: string[]
    let trackers: BehaviourTracker[]
    const make = (options: TrackerBehaviourOptions) => {
      const tracker = create({ debounceTime: 0, ...options })
      trackers.push(tracker)
      return tracker
    }
    const track = (tracker: BehaviourTracker, ...types: string[]) => types.map((activityType) => tracker.track({ activityType }))
    const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms)

    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
      log = []
      trackers = []
    })
    afterEach(async () => {
      const done = Promise.all(trackers.map((tracker) => tracker.shutdown({ timeoutMs: 0 })))
      await advance(0)
      await done
      vi.useRealTimers()
    })

    it('stores each activity before a sink sees it, and forgets it once the sink acknowledged it', async () => {
      const { storage, records } = recordingStorage(log)
      const { sink } = scriptedSink(log)
      const tracker = make({ sinks: [sink], storage })
      track(tracker, 'a', 'b')
      const flushed = tracker.flush()
      await advance(0)
      expect(await flushed).toBe(true)
      expect(log.indexOf('stored a')).toBeLessThan(log.indexOf('sent a'))
      expect(log.indexOf('stored b')).toBeLessThan(log.indexOf('sent b'))
      await tracker.shutdown()
      expect(records.size).toBe(0)
      expect(tracker.stats()).toMatchObject({ sent: 2, dropped: 0, queued: 0 })
    })

    it('delivers first what an earlier tracker left in storage, once', async () => {
      const { storage, records } = recordingStorage(log)
      const first = make({ sinks: [scriptedSink(log).sink], storage })
      first.pause()
      track(first, 'left 1', 'left 2')
      const stopped = first.shutdown({ timeoutMs: 0 })
      await advance(0)
      expect(await stopped).toBe(false)
      expect(first.stats().droppedByReason.shutdown).toBe(2)
      expect(records.size).toBe(2)

      const next = scriptedSink(log)
      const second = make({ sinks: [next.sink], storage })
      track(second, 'new')
      const flushed = second.flush()
      await advance(0)
      expect(await flushed).toBe(true)
      expect(next.delivered()).toEqual(['left 1', 'left 2', 'new'])
      await second.shutdown()
      expect(records.size).toBe(0)
    })

    it('batches a burst: a batch goes debounceTime after the last track(), or once batchSize is reached', async () => {
      const { sink, writes } = scriptedSink(log)
      const tracker = make({ sinks: [sink], storage: recordingStorage(log).storage, batchSize: 3, debounceTime: 500, flushInterval: 5000 })
      track(tracker, 'a')
      await advance(400)
      track(tracker, 'b')
      await advance(400)
      expect(writes).toEqual([])
      await advance(100)
      expect(writes.map((write) => write.types)).toEqual([['a', 'b']])
      track(tracker, 'c', 'd', 'e')
      await advance(0)
      expect(writes.map((write) => write.types)).toEqual([['a', 'b'], ['c', 'd', 'e']])
    })

    it('sends a batch at most flushInterval after its first activity, however busy tracking is', async () => {
      const { sink, writes } = scriptedSink(log)
      const tracker = make({ sinks: [sink], storage: recordingStorage(log).storage, batchSize: 100, debounceTime: 500, flushInterval: 2000 })
      const start = Date.now()
      for (let tick = 0; tick < 6; tick++) {
        track(tracker, `t${tick}`)
        await advance(400)
      }
      expect(writes.map((write) => write.types)).toEqual([['t0', 't1', 't2', 't3', 't4']])
      expect(writes[0]!.at - start).toBe(2000)
    })

    it('retries a retryable failure with backoff, honouring retryInMs, and delivers the batch once', async () => {
      const { sink, writes } = scriptedSink(log, (_, write) => (write === 1 ? { type: 'retryable', retryInMs: 5000 } : write === 2 ? { type: 'retryable' } : { type: 'success' }))
      const tracker = make({ sinks: [sink], storage: recordingStorage(log).storage })
      track(tracker, 'a')
      const flushed = tracker.flush()
      await advance(4999)
      expect(writes).toHaveLength(1)
      await advance(1)
      expect(writes).toHaveLength(2)
      // Full jitter: the second retry waits at random, below twice the 1 s base.
      await advance(2000)
      // Checked before awaiting: a wrong backoff fails here rather than leaving the flush pending.
      expect(writes).toHaveLength(3)
      expect(writes[2]!.at - writes[1]!.at).toBeLessThan(2000)
      expect(await flushed).toBe(true)
      expect(tracker.stats()).toMatchObject({ sent: 1, retried: 2, dropped: 0 })
    })

    it('waits no longer than an hour for a retryInMs past what setTimeout holds, rather than retrying at once', async () => {
      // 2^31 ms would overflow a timer, which then fires at once: a tight loop through maxRetries.
      const { sink, writes } = scriptedSink(log, (_, write) => (write === 1 ? { type: 'retryable', retryInMs: 2 ** 31 } : { type: 'success' }))
      const tracker = make({ sinks: [sink], storage: recordingStorage(log).storage })
      track(tracker, 'a')
      const flushed = tracker.flush()
      await advance(60_000)
      expect(writes).toHaveLength(1)
      await advance(3_600_000 - 60_000)
      expect(writes).toHaveLength(2)
      expect(await flushed).toBe(true)
    })

    it('drops a batch after maxRetries retries as retries_exhausted, and flush() says so', async () => {
      const { storage, records } = recordingStorage(log)
      const { sink, writes } = scriptedSink(log, () => ({ type: 'retryable' }))
      const tracker = make({ sinks: [sink], storage, maxRetries: 2 })
      track(tracker, 'a')
      const flushed = tracker.flush()
      await advance(10_000)
      expect(await flushed).toBe(false)
      expect(writes).toHaveLength(3)
      expect(tracker.stats()).toMatchObject({ sent: 0, failed: 1, dropped: 1, droppedByReason: { retries_exhausted: 1 } })
      await tracker.shutdown()
      expect(records.size).toBe(0)
    })

    it('retries a write that never answers once writeTimeoutMs (30 s) passes, aborting it', async () => {
      let aborted = false
      const { sink, writes } = scriptedSink(log, (_, write, signal) =>
        write > 1
          ? { type: 'success' }
          : new Promise<SinkResult>((resolve) => {
              // A sink ends its write when the signal aborts (the Sink contract).
              signal.addEventListener('abort', () => {
                aborted = true
                resolve({ type: 'retryable' })
              })
            }),
      )
      const tracker = make({ sinks: [sink], storage: recordingStorage(log).storage })
      track(tracker, 'a')
      const flushed = tracker.flush()
      await advance(29_999)
      expect(aborted).toBe(false)
      await advance(1 + 2000)
      expect(aborted).toBe(true)
      expect(await flushed).toBe(true)
      expect(writes).toHaveLength(2)
    })

    it('halves a batch the sink finds too large until it fits, in order, and drops a single activity that is too large', async () => {
      const { sink, writes } = scriptedSink(log, (batch) => (batch.length > 2 || batch.some((activity) => activity.activityType === 'huge') ? { type: 'too_large' } : { type: 'success' }))
      const tracker = make({ sinks: [sink], storage: recordingStorage(log).storage, batchSize: 8 })
      const types = ['a', 'b', 'c', 'd', 'e', 'f', 'g']
      track(tracker, ...types)
      let flushed = tracker.flush()
      await advance(0)
      expect(await flushed).toBe(true)
      const accepted = writes.filter((write) => write.types.length <= 2)
      expect(accepted.flatMap((write) => write.types)).toEqual(types)
      expect(writes[0]!.types).toHaveLength(7)
      track(tracker, 'huge')
      flushed = tracker.flush()
      await advance(0)
      expect(await flushed).toBe(false)
      expect(tracker.stats()).toMatchObject({ sent: 7, failed: 1, droppedByReason: { too_large: 1 } })
    })

    it('drops a batch the sink refuses for good as permanent_failure, and what it rejects one by one as rejected', async () => {
      const { sink } = scriptedSink(log, (batch) =>
        batch[0]!.activityType === 'bad' ? { type: 'failure', error: new Error('HTTP 400') } : { type: 'success', rejected: batch.filter((activity) => activity.activityType === 'odd').map(({ id }) => ({ id, error: 'no' })) },
      )
      const tracker = make({ sinks: [sink], storage: recordingStorage(log).storage })
      track(tracker, 'bad')
      let flushed = tracker.flush()
      await advance(0)
      expect(await flushed).toBe(false)
      track(tracker, 'odd', 'even')
      flushed = tracker.flush()
      await advance(0)
      expect(await flushed).toBe(false)
      expect(tracker.stats()).toMatchObject({ sent: 1, failed: 2, dropped: 2, droppedByReason: { permanent_failure: 1, rejected: 1 } })
    })

    it('drops the oldest past maxQueueSize, and past maxQueueBytes, as queue_overflow', async () => {
      const bySize = scriptedSink(log)
      const counted = make({ sinks: [bySize.sink], storage: recordingStorage(log).storage, maxQueueSize: 3 })
      counted.pause()
      track(counted, 'a', 'b', 'c', 'd', 'e')
      expect(counted.stats().droppedByReason.queue_overflow).toBe(2)
      counted.resume()
      await counted.flush()
      expect(bySize.delivered()).toEqual(['c', 'd', 'e'])

      const byBytes = scriptedSink(log)
      const measured = make({ sinks: [byBytes.sink], storage: recordingStorage(log).storage, maxQueueBytes: 1000 })
      measured.pause()
      // About 570 bytes each: one fits, two do not.
      for (const activityType of ['x', 'y', 'z']) measured.track({ activityType, metadata: { text: 'x'.repeat(400) } })
      expect(measured.stats()).toMatchObject({ dropped: 2, droppedByReason: { queue_overflow: 2 } })
      measured.resume()
      await measured.flush()
      expect(byBytes.delivered()).toEqual(['z'])
    })

    it('starts no write while paused, and delivers on resume', async () => {
      const { sink, writes } = scriptedSink(log)
      const tracker = make({ sinks: [sink], storage: recordingStorage(log).storage })
      tracker.pause()
      track(tracker, 'a')
      await advance(60_000)
      expect(writes).toEqual([])
      tracker.resume()
      await advance(0)
      expect(writes.map((write) => write.types)).toEqual([['a']])
    })

    it('keeps one sink’s failures from delaying another, and storage keeps an activity until every sink settled it', async () => {
      const { storage, records } = recordingStorage(log)
      const good = scriptedSink(log)
      const failing = scriptedSink(log, () => ({ type: 'retryable' }))
      const tracker = make({ sinks: [good.sink, { ...failing.sink, name: 'failing' }], storage, maxRetries: 1 })
      track(tracker, 'a')
      await advance(0)
      expect(good.delivered()).toEqual(['a'])
      expect(records.size).toBe(1)
      await advance(1000)
      expect(failing.writes).toHaveLength(2)
      expect(tracker.stats()).toMatchObject({ sent: 1, dropped: 1, droppedByReason: { retries_exhausted: 1 }, queued: 0 })
      await advance(0)
      expect(records.size).toBe(0)
    })

    it('drops what is not an activity as invalid, and returns the id of what it accepts', async () => {
      const { sink, delivered } = scriptedSink(log)
      const tracker = make({ sinks: [sink], storage: recordingStorage(log).storage })
      expect(tracker.track({ activityType: '' })).toBeUndefined()
      expect(tracker.track({ activityType: 'ok', metadata: { list: [1] } })).toMatch(/^[0-9a-f-]{36}$/)
      await tracker.flush()
      expect(delivered()).toEqual(['ok'])
      expect(tracker.stats()).toMatchObject({ dropped: 1, droppedByReason: { invalid: 1 } })
    })

    it('shuts down within timeoutMs, leaves what is undelivered in storage, and drops later track() calls as shutdown', async () => {
      const { storage, records } = recordingStorage(log)
      const { sink } = scriptedSink(log, (_, _write, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ type: 'retryable' }))))
      const tracker = make({ sinks: [sink], storage })
      track(tracker, 'a')
      const stopped = tracker.shutdown({ timeoutMs: 1000 })
      await advance(1000)
      expect(await stopped).toBe(false)
      expect(tracker.shutdown()).toBe(stopped)
      expect(records.size).toBe(1)
      expect(tracker.track({ activityType: 'late' })).toBeUndefined()
      expect(tracker.stats()).toMatchObject({ sent: 0, queued: 0, droppedByReason: { shutdown: 2 } })
    })

    it('resolves flush(timeoutMs) false when time runs out, and true once nothing is pending', async () => {
      const { sink } = scriptedSink(log, (_, write) => (write === 1 ? { type: 'retryable', retryInMs: 10_000 } : { type: 'success' }))
      const tracker = make({ sinks: [sink], storage: recordingStorage(log).storage })
      expect(await tracker.flush()).toBe(true)
      track(tracker, 'a')
      const flushed = tracker.flush(500)
      await advance(500)
      expect(await flushed).toBe(false)
      // The retry delivers it in time: true, and the flush's timer goes with it.
      const delivered = tracker.flush(60_000)
      await advance(9_500)
      expect(await delivered).toBe(true)
      expect(vi.getTimerCount()).toBe(0)
      expect(await tracker.flush()).toBe(true)
      expect(tracker.stats()).toMatchObject({ sent: 1, queued: 0 })
    })

    it('refuses to start without a sink', () => {
      expect(() => create({ sinks: [], storage: recordingStorage(log).storage })).toThrow(TypeError)
    })
  })
}
