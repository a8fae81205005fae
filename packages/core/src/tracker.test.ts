import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Activity, ActivityInput } from './activity'
import { memorySink } from './memory-sink'
import type { Sink, SinkResult } from './sink'
import { memoryStorage, type Storage } from './storage'
import { createCanonicalTracker, createTracker } from './tracker'
import type { TrackerOptions } from './options'
import type { ValidationError } from './errors'
import { isUuid } from './uuid'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

/** Lets queued microtasks and promise chains run without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0)

function types(activities: Activity[]) {
  return activities.map((activity) => activity.activityType)
}

/** Warnings are on by default; tests that are not about them keep the output quiet. */
function tracker(options: Partial<TrackerOptions> & Pick<TrackerOptions, 'sinks'>) {
  return createTracker({ retryBaseDelayMs: 100, retryMaxDelayMs: 1000, warnings: false, ...options })
}

/** A sink whose writes stay pending until the test answers them. */
function manualSink() {
  const pending: { batch: Activity[]; resolve: (result: SinkResult) => void; signal: AbortSignal }[] = []
  const sink: Sink = {
    name: 'manual',
    write: (batch, { signal }) => new Promise<SinkResult>((resolve) => pending.push({ batch, resolve, signal })),
  }
  return { sink, pending }
}

describe('batching', () => {
  it('sends a batch as soon as batchSize activities are queued, and the rest after debounceTime', async () => {
    const sink = memorySink()
    const t = tracker({ sinks: [sink], batchSize: 3, debounceTime: 500 })
    for (let index = 0; index < 7; index++) t.track({ activityType: `a${index}` })
    await settle()
    expect(sink.batches.map((batch) => batch.length)).toEqual([3, 3])
    await vi.advanceTimersByTimeAsync(499)
    expect(sink.batches).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(1)
    expect(types(sink.activities)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6'])
  })

  it('waits debounceTime after the last track(), so a burst becomes one batch', async () => {
    const sink = memorySink()
    const t = tracker({ sinks: [sink], debounceTime: 500, flushInterval: 5000 })
    t.track({ activityType: 'a' })
    await vi.advanceTimersByTimeAsync(400)
    t.track({ activityType: 'b' })
    await vi.advanceTimersByTimeAsync(400)
    expect(sink.batches).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(100)
    expect(sink.batches.map(types)).toEqual([['a', 'b']])
  })

  it('never holds an activity longer than flushInterval, however busy tracking is', async () => {
    const sink = memorySink()
    const t = tracker({ sinks: [sink], debounceTime: 500, flushInterval: 2000 })
    for (let elapsed = 0; elapsed < 1800; elapsed += 300) {
      t.track({ activityType: `at${elapsed}` })
      await vi.advanceTimersByTimeAsync(300)
    }
    t.track({ activityType: 'at1800' })
    await vi.advanceTimersByTimeAsync(199)
    expect(sink.batches).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(sink.batches).toHaveLength(1)
    expect(sink.batches[0]!.length).toBe(7)
  })

  it('arms one batch timer for a long synchronous burst, not one per call, and sends the burst when it ends', async () => {
    const sink = memorySink()
    const t = tracker({ sinks: [sink], debounceTime: 500, flushInterval: 5000 })
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout')
    // 10 s of synchronous work between the calls: no timer can fire, the clock moves on.
    for (let index = 0; index < 100; index++) {
      t.track({ activityType: `a${index}` })
      vi.setSystemTime(Date.now() + 100)
    }
    expect(setTimeoutSpy).toHaveBeenCalledTimes(1)
    setTimeoutSpy.mockRestore()
    // The burst outlasted flushInterval: the one timer, when it fires, sends everything.
    await vi.advanceTimersByTimeAsync(500)
    expect(sink.batches.map((batch) => batch.length)).toEqual([100])
  })
})

describe('delivery failures', () => {
  it('retries a retryable failure with backoff, keeps the order, and counts the retry', async () => {
    const sink = memorySink({ respond: (_, attempt) => (attempt === 1 ? { type: 'retryable' } : undefined) })
    const t = tracker({ sinks: [sink], batchSize: 2 })
    t.track({ activityType: 'a' })
    t.track({ activityType: 'b' })
    await settle()
    expect(sink.activities).toHaveLength(0)
    t.track({ activityType: 'c' })
    await vi.advanceTimersByTimeAsync(1000)
    expect(types(sink.activities)).toEqual(['a', 'b', 'c'])
    expect(t.stats()).toMatchObject({ sent: 3, retried: 2, dropped: 0, queued: 0 })
  })

  it('honours Retry-After instead of its own backoff', async () => {
    const sink = memorySink({ respond: (_, attempt) => (attempt === 1 ? { type: 'retryable', retryInMs: 7000 } : undefined) })
    const t = tracker({ sinks: [sink], batchSize: 1 })
    t.track({ activityType: 'a' })
    await settle()
    await vi.advanceTimersByTimeAsync(6999)
    expect(sink.activities).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(sink.activities).toHaveLength(1)
  })

  it('drops a batch on a permanent failure, reports it with its reason, and goes on with the next', async () => {
    const onDrop = vi.fn()
    const sink = memorySink({ respond: (_, attempt) => (attempt === 1 ? { type: 'failure', error: new Error('HTTP 400') } : undefined) })
    const t = tracker({ sinks: [sink], batchSize: 1, onDrop })
    t.track({ activityType: 'bad' })
    t.track({ activityType: 'good' })
    await settle()
    expect(types(sink.activities)).toEqual(['good'])
    expect(onDrop).toHaveBeenCalledWith('permanent_failure', [expect.objectContaining({ activityType: 'bad' })], expect.objectContaining({ sink: 'memory' }))
    expect(t.stats()).toMatchObject({ sent: 1, failed: 1, dropped: 1, droppedByReason: { permanent_failure: 1 } })
  })

  it('halves a batch the sink finds too large until it fits, and drops a single activity that never fits', async () => {
    const sink = memorySink({
      respond: (batch) =>
        batch.length > 2 || batch.some((activity) => activity.activityType === 'huge') ? { type: 'too_large' } : undefined,
    })
    const t = tracker({ sinks: [sink], batchSize: 8 })
    for (let index = 0; index < 7; index++) t.track({ activityType: `a${index}` })
    t.track({ activityType: 'huge' })
    await settle()
    expect(types(sink.activities)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6'])
    expect(t.stats().droppedByReason).toEqual({ too_large: 1 })
  })

  it('drops a batch after maxRetries retries', async () => {
    const sink = memorySink({ respond: () => ({ type: 'retryable' }) })
    const t = tracker({ sinks: [sink], batchSize: 1, maxRetries: 2 })
    t.track({ activityType: 'a' })
    await vi.advanceTimersByTimeAsync(10_000)
    expect(sink.batches).toHaveLength(3)
    expect(t.stats()).toMatchObject({ queued: 0, dropped: 1, droppedByReason: { retries_exhausted: 1 } })
  })

  it('drops a batch whose retries outlast maxRetryTimeMs', async () => {
    const sink = memorySink({ respond: () => ({ type: 'retryable', retryInMs: 4000 }) })
    const t = tracker({ sinks: [sink], batchSize: 1, maxRetries: 100, maxRetryTimeMs: 10_000 })
    t.track({ activityType: 'a' })
    await vi.advanceTimersByTimeAsync(20_000)
    expect(t.stats().droppedByReason).toEqual({ retries_exhausted: 1 })
    expect(sink.batches.length).toBeLessThanOrEqual(5)
  })

  it('treats a sink that throws as retryable and reports the error', async () => {
    const onError = vi.fn()
    let calls = 0
    const sink: Sink = {
      name: 'flaky',
      async write() {
        if (++calls === 1) throw new Error('socket hang up')
        return { type: 'success' }
      },
    }
    const t = tracker({ sinks: [sink], batchSize: 1, onError })
    t.track({ activityType: 'a' })
    await vi.advanceTimersByTimeAsync(1000)
    expect(t.stats()).toMatchObject({ sent: 1, retried: 1 })
    expect(String(onError.mock.calls[0]![0])).toContain('[usertracking] [flaky]')
  })

  it('reports a malformed answer and retries its batch, rather than losing it or counting it delivered', async () => {
    const onError = vi.fn()
    // `rejected` not a list, a list holding null, a type no sink may answer, then a real answer.
    const answers: unknown[] = [{ type: 'success', rejected: 'no' }, { type: 'success', rejected: [null] }, { type: 'ok' }]
    const sink: Sink & { writes: number } = {
      name: 'broken',
      writes: 0,
      async write() {
        return (answers[sink.writes++] ?? { type: 'success' }) as SinkResult
      },
    }
    const t = tracker({ sinks: [sink], batchSize: 1, onError })
    t.track({ activityType: 'a' })
    await vi.advanceTimersByTimeAsync(5000)
    expect(sink.writes).toBe(4)
    expect(t.stats()).toMatchObject({ sent: 1, retried: 3, dropped: 0 })
    expect(onError).toHaveBeenCalledTimes(3)
    expect(onError.mock.calls.map((call) => String(call[0]))).toEqual([
      expect.stringContaining('not a list of { id, error }'),
      expect.stringContaining('not a list of { id, error }'),
      expect.stringContaining('no SinkResult'),
    ])
  })

  it('aborts and retries a write that never answers', async () => {
    const { sink, pending } = manualSink()
    const t = tracker({ sinks: [sink], batchSize: 1, writeTimeoutMs: 1000 })
    t.track({ activityType: 'a' })
    await settle()
    expect(pending).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1000)
    expect(pending[0]!.signal.aborted).toBe(true)
    await vi.advanceTimersByTimeAsync(1000)
    expect(pending).toHaveLength(2)
    pending[1]!.resolve({ type: 'success' })
    await settle()
    expect(t.stats()).toMatchObject({ sent: 1, retried: 1, queued: 0 })
  })

  it('gives each sink its own queue: a failing sink neither delays nor loses another sink’s activities', async () => {
    const good = memorySink({ name: 'good' })
    let failing = true
    const bad = memorySink({ name: 'bad', respond: () => (failing ? { type: 'retryable' } : undefined) })
    const t = tracker({ sinks: [bad, good], batchSize: 2, maxRetries: 50 })
    for (let index = 0; index < 6; index++) t.track({ activityType: `a${index}` })
    await settle()
    expect(good.activities).toHaveLength(6)
    expect(bad.activities).toHaveLength(0)
    expect(t.stats().queued).toBe(6)
    failing = false
    await vi.advanceTimersByTimeAsync(5000)
    expect(types(bad.activities)).toEqual(types(good.activities))
    expect(t.stats().queued).toBe(0)
  })

  it('has at most one write in flight per sink', async () => {
    const { sink, pending } = manualSink()
    const t = tracker({ sinks: [sink], batchSize: 1 })
    for (let index = 0; index < 5; index++) t.track({ activityType: `a${index}` })
    await settle()
    expect(pending).toHaveLength(1)
    pending[0]!.resolve({ type: 'success' })
    await settle()
    expect(pending).toHaveLength(2)
  })
})

describe('bounds', () => {
  it('drops the oldest activities when a sink’s queue is full, counts them and warns once', async () => {
    const warn = vi.fn()
    const { sink, pending } = manualSink()
    const t = tracker({ sinks: [sink], batchSize: 1, maxQueueSize: 3, warnings: true, debug: { debug: () => {}, warn, error: () => {} } })
    t.track({ activityType: 'a0' })
    await settle()
    for (let index = 1; index < 8; index++) t.track({ activityType: `a${index}` })
    await settle()
    // a0 is in flight; a1..a4 overflowed; a5..a7 wait.
    expect(t.stats()).toMatchObject({ dropped: 4, droppedByReason: { queue_overflow: 4 }, queued: 4 })
    expect(warn).toHaveBeenCalledTimes(1)
    for (let round = 0; round < 4; round++) {
      pending[round]!.resolve({ type: 'success' })
      await settle()
    }
    expect(pending.map((write) => write.batch[0]!.activityType)).toEqual(['a0', 'a5', 'a6', 'a7'])
  })
})

describe('byte bounds', () => {
  const padded = (index: number) => ({ activityType: `a${index}`, metadata: { padding: 'x'.repeat(1000) } })

  it('caps a batch in bytes as well as in count', async () => {
    const sink = memorySink()
    const t = tracker({ sinks: [sink], batchSize: 100, maxBatchBytes: 5000 })
    for (let index = 0; index < 12; index++) t.track(padded(index))
    await t.flush()
    // About 1.1 KB each: four fit under 5000 bytes, a fifth would not.
    expect(sink.batches.map((batch) => batch.length)).toEqual([4, 4, 4])
  })

  it('keeps the size learned from a 413 for the next batches and grows back only gradually', async () => {
    let limit = 3
    const sink = memorySink({ respond: (batch) => (batch.length > limit ? { type: 'too_large' } : undefined) })
    const t = tracker({ sinks: [sink], batchSize: 8 })
    for (let index = 0; index < 8; index++) t.track({ activityType: `a${index}` })
    await t.flush()
    limit = 100
    sink.batches.length = 0
    for (let index = 0; index < 40; index++) t.track({ activityType: `b${index}` })
    await t.flush()
    const sizes = sink.batches.map((batch) => batch.length)
    // Not back to 8 at the first success: the learned size holds until eight writes succeeded
    // (four of them in the first round), then doubles, by count and by bytes.
    expect(sizes.slice(0, 4)).toEqual([2, 2, 2, 2])
    expect(sizes[4]).toBeGreaterThan(2)
    for (let index = 1; index < sizes.length - 1; index++) expect(sizes[index]).toBeGreaterThanOrEqual(sizes[index - 1]!)
    expect(Math.max(...sizes)).toBeLessThanOrEqual(8)
    expect(sink.activities).toHaveLength(48)
  })

  it('without a paging storage, bounds memory in bytes and drops the oldest past maxQueueBytes', async () => {
    const { sink, pending } = manualSink()
    const t = tracker({ sinks: [sink], batchSize: 1, maxQueueBytes: 5000 })
    t.track(padded(0))
    await settle()
    for (let index = 1; index < 10; index++) t.track(padded(index))
    // a0 is in flight; four of about 1.1 KB fit in 5000 bytes.
    expect(t.stats().droppedByReason).toEqual({ queue_overflow: 5 })
    for (let round = 0; round < 5; round++) {
      pending[round]!.resolve({ type: 'success' })
      await settle()
    }
    expect(pending.map((write) => write.batch[0]!.activityType)).toEqual(['a0', 'a6', 'a7', 'a8', 'a9'])
  })

  it('counts each activity at its own size when one is tracked from inside another (beforeSend, toJSON)', async () => {
    const { sink, pending } = manualSink()
    // Each padded activity tracks a small one while it is normalised and another from beforeSend.
    const t: ReturnType<typeof tracker> = tracker({
      sinks: [sink],
      batchSize: 1,
      maxQueueBytes: 5000,
      beforeSend: (activity) => {
        if (activity.activityType.startsWith('a')) t.track({ activityType: `sent-${activity.activityType}` })
        return activity
      },
    })
    const withInner = (index: number) => ({
      ...padded(index),
      context: { toJSON: () => (t.track({ activityType: `json-a${index}` }), { page: '/' }) },
    })
    t.track({ activityType: 'first' })
    await settle()
    for (let index = 1; index < 10; index++) t.track(withInner(index))
    // About 1.1 KB each, so at most four padded ones fit in 5000 bytes; counted at the size of the
    // small one tracked inside it, all nine would.
    for (let round = 0; round < pending.length; round++) {
      pending[round]!.resolve({ type: 'success' })
      await settle()
    }
    const sent = pending.map((write) => write.batch[0]!.activityType)
    const large = sent.filter((type) => /^a\d$/.test(type))
    expect(large.length).toBeGreaterThan(0)
    expect(large.length).toBeLessThanOrEqual(4)
    expect(large.at(-1)).toBe('a9')
    expect(sent).toContain('json-a9')
    expect(sent).toContain('sent-a9')
  })

  it('holds a 100k burst of typical activities at the default bounds, without a storage', async () => {
    const { sink } = manualSink()
    const t = tracker({ sinks: [sink] })
    for (let index = 0; index < 100_000; index++) t.track({ userId: `user-${index % 1000}`, activityType: 'job_match', metadata: { index, jobTitle: 'Data Engineer' } })
    expect(t.stats()).toMatchObject({ queued: 100_000, dropped: 0 })
  }, 60_000)
})

describe('a paging storage (memory holds a window, storage the rest)', () => {
  const padded = (index: number) => ({ activityType: `a${index}`, metadata: { index, padding: 'x'.repeat(1000) } })

  it('spills what does not fit, pages it back as delivery makes room, and loses nothing, in order', async () => {
    const storage = memoryStorage()
    const sink = memorySink()
    const t = tracker({ sinks: [sink], storage, batchSize: 5, maxQueueBytes: 10_000 })
    const ids: string[] = []
    for (let index = 0; index < 3000; index++) ids.push(t.track(padded(index))!)
    expect(t.stats()).toMatchObject({ queued: 3000, dropped: 0 })
    const flushed = t.flush()
    // Storage is written in steps with the event loop running between them.
    await vi.advanceTimersByTimeAsync(1000)
    expect(await flushed).toBe(true)
    expect(sink.activities.map((activity) => activity.id)).toEqual(ids)
    expect(storage.size).toBe(0)
    expect(t.stats()).toMatchObject({ queued: 0, sent: 3000, dropped: 0 })
  })

  it('lets the event loop run between the pages of a large backlog', async () => {
    vi.useRealTimers()
    const inner = memoryStorage()
    // How many times the event loop came round (a setImmediate ran) before each page was read.
    let turns = 0
    let running = true
    const turn = () => {
      turns++
      if (running) setImmediate(turn)
    }
    const pagedAt: number[] = []
    const storage: Storage = {
      ...inner,
      load: inner.load,
      page(limit) {
        pagedAt.push(turns)
        return inner.page!(limit)
      },
    }
    const t = tracker({ sinks: [memorySink()], storage, batchSize: 1000, maxQueueBytes: 1000 })
    for (let index = 0; index < 5000; index++) t.track(padded(index))
    setImmediate(turn)
    expect(await t.flush(30_000)).toBe(true)
    running = false
    expect(pagedAt.length).toBeGreaterThan(3)
    // Full pages follow one another only after the loop ran.
    for (let index = 1; index < pagedAt.length; index++) expect(pagedAt[index]).toBeGreaterThan(pagedAt[index - 1]!)
  })

  /**
   * memoryStorage with spillJson and the synchronous writes. Each call is logged in `calls`, and
   * each id in `stored` in the order the storage got it. `sync: 'throw'` makes `spillJsonSync`
   * throw; `add: 'never'` leaves every `add` pending.
   */
  function syncStorage(calls: string[], options: { stored?: string[]; sync?: 'throw'; add?: 'never' } = {}): Storage {
    const inner = memoryStorage()
    const decode = (json: Uint8Array) => JSON.parse(new TextDecoder().decode(json)) as Activity[]
    const log = (activities: Activity[]) => options.stored?.push(...activities.map((activity) => activity.id))
    return {
      ...inner,
      add(activities) {
        log(activities)
        return options.add === 'never' ? new Promise(() => {}) : inner.add(activities)
      },
      spillJson(json, count) {
        calls.push(`spillJson ${count}`)
        const activities = decode(json)
        log(activities)
        return inner.spill!(activities)
      },
      spillJsonSync(json, count) {
        calls.push(`spillJsonSync ${count}`)
        if (options.sync === 'throw') throw new Error('no synchronous writes today')
        const activities = decode(json)
        log(activities)
        // memoryStorage stores before its promise's first await: it is done when this returns.
        void inner.spill!(activities)
        return true
      },
      addSync(activities) {
        calls.push(`addSync ${activities.length}`)
        log(activities)
        void inner.add(activities)
        return true
      },
    }
  }

  /**
   * A tracker over `storage` once it has loaded it; `burst()` tracks `count` activities in one run
   * and gives their ids, `delivered()` flushes and gives the ids its sink received, in order.
   */
  async function loaded(storage: Storage, options: Partial<TrackerOptions>) {
    const sink = memorySink()
    const t = tracker({ sinks: [sink], storage, ...options })
    expect(await t.flush()).toBe(true)
    await settle()
    return {
      t,
      burst: (count: number, make: (index: number) => ActivityInput) => Array.from({ length: count }, (_, index) => t.track(make(index))!),
      async delivered() {
        const flushed = t.flush()
        await vi.advanceTimersByTimeAsync(1000)
        expect(await flushed).toBe(true)
        return sink.activities.map((activity) => activity.id)
      },
    }
  }

  it('stores a burst that outgrows the window inside it: the held window first, then each full block', async () => {
    const calls: string[] = []
    const stored: string[] = []
    const { burst, delivered } = await loaded(syncStorage(calls, { stored }), { batchSize: 5, maxQueueBytes: 10_000 })
    const ids = burst(300, padded)
    // About 1.1 KB each: the window holds 8 and a 64 KB block 58, so five blocks are full.
    expect([...calls]).toEqual(['addSync 8', ...Array.from({ length: 5 }, () => 'spillJsonSync 58')])
    expect(await delivered()).toEqual(ids)
    // What the last, partly filled block held went the usual way, after the burst; the storage got
    // every activity once, in the order tracked.
    expect(calls.filter((call) => call.startsWith('spillJson '))).toHaveLength(1)
    expect(stored).toEqual(ids)

    // The next burst, once the first is delivered, is written the same way.
    calls.length = 0
    const next = burst(300, padded)
    expect(calls.filter((call) => call.startsWith('spillJsonSync'))).toHaveLength(5)
    expect(await delivered()).toEqual([...ids, ...next])
    expect(stored).toEqual([...ids, ...next])
  })

  it('writes a large window a chunk of at most 1000 at a time, before any block, and then catches up', async () => {
    const calls: string[] = []
    const stored: string[] = []
    const { burst, delivered } = await loaded(syncStorage(calls, { stored }), { batchSize: 500, maxQueueBytes: 500_000 })
    const ids = burst(30_000, (index) => ({ activityType: 'small', metadata: { index } }))
    const written = [...calls]
    const added = written.filter((call) => call.startsWith('addSync')).map((call) => Number(call.split(' ')[1]))
    expect(added.length).toBeGreaterThan(2)
    expect(Math.max(...added)).toBeLessThanOrEqual(1000)
    const firstBlock = written.findIndex((call) => call.startsWith('spillJsonSync'))
    expect(firstBlock).toBe(added.length)
    expect(written.slice(firstBlock).every((call) => call.startsWith('spillJsonSync'))).toBe(true)
    expect(written.length - added.length).toBeGreaterThan(10)
    expect(await delivered()).toEqual(ids)
    // Two writes per block sealed: once the window was written, the blocks caught up within the
    // burst, and at most its last, partly filled block went the usual way.
    expect(calls.filter((call) => call.startsWith('spillJson ')).length).toBeLessThanOrEqual(1)
    expect(stored).toEqual(ids)
  })

  it('writes nothing at once while a storage call is under way', async () => {
    const calls: string[] = []
    const { burst } = await loaded(syncStorage(calls, { add: 'never' }), { batchSize: 5, maxQueueBytes: 10_000 })
    burst(3, padded)
    // The write of these three never completes: every later write waits behind it.
    await settle()
    burst(300, padded)
    expect(calls.filter((call) => call.includes('Sync'))).toEqual([])
  })

  it('reports a throwing synchronous write once, writes in the background from then on, and loses nothing', async () => {
    const calls: string[] = []
    const stored: string[] = []
    const errors: unknown[] = []
    const { t, burst, delivered } = await loaded(syncStorage(calls, { stored, sync: 'throw' }), { batchSize: 5, maxQueueBytes: 10_000 })
    // An error listener that tracks runs inside the burst's track() call that made the write.
    t.on('error', (error) => {
      errors.push(error)
      t.track({ activityType: 'reported' })
    })
    const ids = burst(300, padded)
    const received = await delivered()
    expect(errors).toHaveLength(1)
    expect(String((errors[0] as Error).message)).toMatch(/at once/)
    expect(calls.filter((call) => call.startsWith('spillJsonSync'))).toHaveLength(1)
    expect(received).toHaveLength(301)
    expect(new Set(received).size).toBe(301)
    expect(received.filter((id) => ids.includes(id))).toEqual(ids)
    expect(new Set(stored).size).toBe(stored.length)
  })

  it('drops the newest past maxStorageBytes, counted as queue_overflow', async () => {
    const storage = memoryStorage()
    const { sink } = manualSink()
    const t = tracker({ sinks: [sink], storage, maxQueueBytes: 3000, maxStorageBytes: 12_000 })
    const ids = Array.from({ length: 20 }, (_, index) => t.track(padded(index)))
    // About 1.1 KB each: ten fit in 12,000 bytes of storage.
    expect(ids.filter(Boolean)).toHaveLength(10)
    expect(ids.slice(10)).toEqual(Array(10).fill(undefined))
    expect(t.stats()).toMatchObject({ queued: 10, droppedByReason: { queue_overflow: 10 } })
  })

  it('a new tracker pages in what an earlier one left, before what it tracks itself', async () => {
    const storage = memoryStorage()
    const down = memorySink({ respond: () => ({ type: 'retryable' }) })
    const first = tracker({ sinks: [down], storage, maxQueueBytes: 5000 })
    const left = Array.from({ length: 2500 }, (_, index) => first.track(padded(index))!)
    const stopped = first.shutdown({ timeoutMs: 1000 })
    await vi.advanceTimersByTimeAsync(1000)
    expect(await stopped).toBe(false)
    expect(storage.size).toBe(2500)

    const up = memorySink()
    const second = tracker({ sinks: [up], storage, maxQueueBytes: 5000 })
    const own = second.track({ activityType: 'new' })!
    const flushed = second.flush()
    await vi.advanceTimersByTimeAsync(1000)
    expect(await flushed).toBe(true)
    expect(up.activities.map((activity) => activity.id)).toEqual([...left, own])
    expect(second.stats()).toMatchObject({ queued: 0, sent: 2501 })
  })
})

describe('flush and shutdown', () => {
  it('flush resolves once everything queued so far is delivered, for every concurrent caller', async () => {
    const { sink, pending } = manualSink()
    const t = tracker({ sinks: [sink], batchSize: 100 })
    t.track({ activityType: 'a' })
    const first = t.flush()
    const second = t.flush()
    let done = 0
    void first.then(() => done++)
    void second.then(() => done++)
    await settle()
    expect(pending).toHaveLength(1)
    expect(done).toBe(0)
    pending[0]!.resolve({ type: 'success' })
    expect(await first).toBe(true)
    expect(await second).toBe(true)
  })

  it('flush waits for a write already in flight', async () => {
    const { sink, pending } = manualSink()
    const t = tracker({ sinks: [sink], batchSize: 1 })
    t.track({ activityType: 'a' })
    await settle()
    let flushed = false
    void t.flush().then(() => (flushed = true))
    await settle()
    expect(flushed).toBe(false)
    pending[0]!.resolve({ type: 'success' })
    await settle()
    expect(flushed).toBe(true)
  })

  it('flush(timeoutMs) resolves false when the sink cannot deliver in time', async () => {
    const sink = memorySink({ respond: () => ({ type: 'retryable' }) })
    const t = tracker({ sinks: [sink], maxRetries: 1000 })
    t.track({ activityType: 'a' })
    const result = t.flush(3000)
    await vi.advanceTimersByTimeAsync(3000)
    expect(await result).toBe(false)
  })

  it('shutdown delivers, closes the sink, is idempotent, and drops later track() calls', async () => {
    const close = vi.fn(async () => {})
    const stored = memorySink()
    const t = tracker({ sinks: [{ name: 'closing', write: (b, o) => stored.write(b, o), close }] })
    t.track({ activityType: 'a' })
    const first = t.shutdown()
    expect(t.shutdown()).toBe(first)
    expect(await first).toBe(true)
    expect(stored.activities).toHaveLength(1)
    expect(close).toHaveBeenCalledTimes(1)
    expect(t.track({ activityType: 'late' })).toBeUndefined()
    expect(t.stats().droppedByReason).toEqual({ shutdown: 1 })
  })

  it('shutdown gives up after its timeout when the sink is down', async () => {
    const sink = memorySink({ respond: () => ({ type: 'retryable' }) })
    // Jittered backoff can fit the default 10 retries into 2 s; the shutdown, not the retries, must end it.
    const t = tracker({ sinks: [sink], maxRetries: 1000 })
    t.track({ activityType: 'a' })
    const done = t.shutdown({ timeoutMs: 2000 })
    await vi.advanceTimersByTimeAsync(2000)
    expect(await done).toBe(false)
    expect(t.stats()).toMatchObject({ queued: 0, droppedByReason: { shutdown: 1 } })
  })
  it('leaves no timer behind after shutdown, also the one a flush armed while a retry waited', async () => {
    // A timer left pending fails Deno's test sanitizer in the app's own tests, and holds the retry's closure.
    const sink = memorySink({ respond: () => ({ type: 'retryable' }) })
    const t = tracker({ sinks: [sink], maxRetries: 1000, retryBaseDelayMs: 60_000, retryMaxDelayMs: 60_000 })
    t.track({ activityType: 'a' })
    const flushed = t.flush(50)
    await vi.advanceTimersByTimeAsync(50)
    expect(await flushed).toBe(false)
    // flush() again while the retry waits: it watches the retry's deadline from its own context.
    const again = t.flush(10)
    await vi.advanceTimersByTimeAsync(10)
    expect(await again).toBe(false)
    const done = t.shutdown({ timeoutMs: 20 })
    await vi.advanceTimersByTimeAsync(20)
    await done
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('storage', () => {
  it('writes one storage batch per synchronous burst, sends only what is stored, and removes what was delivered', async () => {
    const inner = memoryStorage()
    let releaseAdd!: () => void
    const adds: number[] = []
    const storage: Storage = {
      load: () => inner.load(),
      add: async (activities) => {
        adds.push(activities.length)
        await new Promise<void>((resolve) => (releaseAdd = resolve))
        await inner.add(activities)
      },
      remove: (ids) => inner.remove(ids),
    }
    const sink = memorySink()
    const t = tracker({ sinks: [sink], storage, batchSize: 10 })
    for (let index = 0; index < 50; index++) t.track({ activityType: `a${index}` })
    await settle()
    expect(adds).toEqual([50])
    expect(sink.batches).toHaveLength(0)
    // Two more bursts while the first write is slow: they are coalesced into one write.
    for (let index = 50; index < 60; index++) t.track({ activityType: `a${index}` })
    await settle()
    for (let index = 60; index < 70; index++) t.track({ activityType: `a${index}` })
    await settle()
    releaseAdd()
    await settle()
    expect(adds).toEqual([50, 20])
    releaseAdd()
    await vi.advanceTimersByTimeAsync(1000)
    expect(sink.activities).toHaveLength(70)
    expect(inner.size).toBe(0)
  })

  it('a new tracker over the same storage delivers what the old one could not', async () => {
    const storage = memoryStorage()
    const down = memorySink({ respond: () => ({ type: 'retryable' }) })
    const first = tracker({ sinks: [down], storage })
    first.track({ activityType: 'a' })
    first.track({ activityType: 'b' })
    const stopped = first.shutdown({ timeoutMs: 100 })
    await vi.advanceTimersByTimeAsync(100)
    expect(await stopped).toBe(false)
    expect(storage.size).toBe(2)

    const up = memorySink()
    const second = tracker({ sinks: [up], storage })
    second.track({ activityType: 'c' })
    expect(await second.flush()).toBe(true)
    expect(types(up.activities)).toEqual(['a', 'b', 'c'])
    expect(storage.size).toBe(0)
  })

  it('keeps delivering from memory when the storage fails', async () => {
    const onError = vi.fn()
    const storage: Storage = {
      load: async () => [],
      add: async () => {
        throw new Error('QuotaExceededError')
      },
      remove: async () => {},
    }
    const sink = memorySink()
    const t = tracker({ sinks: [sink], storage, onError })
    t.track({ activityType: 'a' })
    expect(await t.flush()).toBe(true)
    expect(sink.activities).toHaveLength(1)
    expect(String(onError.mock.calls[0]![0])).toContain('[usertracking] [storage]')
  })
})

describe('track() never throws and reports every drop', () => {
  it('drops garbage with the reason invalid and logs the field path', async () => {
    const debug = vi.fn()
    const sink = memorySink()
    const t = tracker({ sinks: [sink], debug: { debug, warn: () => {}, error: () => {} } })
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const garbage: unknown[] = [
      undefined,
      null,
      42,
      'click',
      { activityType: 'a', metadata: cyclic },
      { activityType: 'a', metadata: { n: 1n } },
      { activityType: 'a', metadata: { f: () => 1 } },
      { activityType: 'a', description: 'x'.repeat(5_000_000) },
      Object.create(null),
    ]
    for (const input of garbage) expect(t.track(input as never)).toBeUndefined()
    expect(t.stats()).toMatchObject({ dropped: garbage.length, droppedByReason: { invalid: garbage.length }, queued: 0 })
    expect(debug.mock.calls.map((call) => call.map(String).join(' ')).join('\n')).toContain('metadata.self: Circular reference.')
    expect(t.track({ activityType: 'fine' })).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('applies beforeSend: changes stick, null filters, a throw drops without reaching the caller', async () => {
    const sink = memorySink()
    const t = tracker({
      sinks: [sink],
      beforeSend: (activity) => {
        if (activity.activityType === 'secret') return null
        if (activity.activityType === 'explode') throw new Error('hook bug')
        return { ...activity, description: 'seen' }
      },
    })
    t.track({ activityType: 'a' })
    t.track({ activityType: 'secret' })
    expect(() => t.track({ activityType: 'explode' })).not.toThrow()
    await t.flush()
    expect(sink.activities.map((activity) => [activity.activityType, activity.description])).toEqual([['a', 'seen']])
    expect(t.stats().droppedByReason).toEqual({ filtered: 1, before_send_error: 1 })
  })

  it('merges defaults under each activity, with metadata merged key by key', async () => {
    const sink = memorySink()
    let session = 's1'
    const t = tracker({
      sinks: [sink],
      defaults: () => ({ userId: 'u1', sessionId: session, metadata: { app: 'web', build: 1 } }),
    })
    t.track({ activityType: 'a', metadata: { build: 2 } })
    session = 's2'
    t.track({ activityType: 'b', userId: 'u9' })
    // An explicit undefined (what withActivity sends for an option it was not given) keeps the default.
    t.track({ activityType: 'c', userId: undefined })
    await t.flush()
    expect(sink.activities.map(({ userId, sessionId, metadata }) => ({ userId, sessionId, metadata }))).toEqual([
      { userId: 'u1', sessionId: 's1', metadata: { app: 'web', build: 2 } },
      { userId: 'u9', sessionId: 's2', metadata: { app: 'web', build: 1 } },
      { userId: 'u1', sessionId: 's2', metadata: { app: 'web', build: 1 } },
    ])
  })
})

describe('a throwing defaults function', () => {
  it('costs only its defaults: the activity is still tracked and the error reported', async () => {
    const onError = vi.fn()
    const sink = memorySink()
    const t = tracker({
      sinks: [sink],
      onError,
      defaults: () => {
        throw new Error('no request context')
      },
    })
    expect(t.track({ activityType: 'a' })).toBeDefined()
    await t.flush()
    expect(sink.activities).toHaveLength(1)
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'no request context' }))
  })
})

describe('drops are visible without debug', () => {
  it('warns on the console once per reason per minute, counting what it held back', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      const sink = memorySink({ respond: () => ({ type: 'failure', error: new Error('column "x" does not exist') }) })
      const t = createTracker({ sinks: [sink], batchSize: 1 })
      for (let index = 0; index < 4; index++) t.track({ activityType: `a${index}` })
      await t.flush()
      expect(warn).toHaveBeenCalledTimes(1)
      expect(String(warn.mock.calls[0]![0])).toMatch(/Dropped 1 activity \(permanent_failure, sink memory\)\. column "x" does not exist/)
      t.track({} as never)
      expect(warn).toHaveBeenCalledTimes(2)
      expect(String(warn.mock.calls[1]![0])).toMatch(/\(invalid\)/)
      await vi.advanceTimersByTimeAsync(60_000)
      t.track({ activityType: 'late' })
      await t.flush()
      expect(warn).toHaveBeenCalledTimes(3)
      expect(String(warn.mock.calls[2]![0])).toMatch(/permanent_failure.*\(3 more since the last such warning\)/)
    } finally {
      warn.mockRestore()
    }
  })

  it('flush() resolves false when what it waited for was dropped, and flush({}) says why', async () => {
    let fail = true
    const sink = memorySink({ respond: () => (fail ? { type: 'failure', error: new Error('HTTP 400') } : undefined) })
    const t = tracker({ sinks: [sink], batchSize: 1 })
    t.track({ activityType: 'a' })
    t.track({ activityType: 'b' })
    expect(await t.flush()).toBe(false)
    t.track({ activityType: 'c' })
    expect(await t.flush({ timeoutMs: 1000 })).toEqual({ delivered: false, timedOut: false, dropped: { permanent_failure: 1 } })
    fail = false
    t.track({ activityType: 'd' })
    expect(await t.flush({})).toEqual({ delivered: true, timedOut: false, dropped: {} })
    const down = tracker({ sinks: [memorySink({ respond: () => ({ type: 'retryable' }) })] })
    down.track({ activityType: 'e' })
    const report = down.flush({ timeoutMs: 500 })
    await vi.advanceTimersByTimeAsync(500)
    expect(await report).toEqual({ delivered: false, timedOut: true, dropped: {} })
  })
})

describe('timers that never fire (a platform that cancels a finished request’s timers)', () => {
  it('the next track() abandons a write older than writeTimeoutMs by the clock, and delivery goes on', async () => {
    const { sink, pending } = manualSink()
    const t = tracker({ sinks: [sink], batchSize: 1, writeTimeoutMs: 1000, retryBaseDelayMs: 1 })
    t.track({ activityType: 'a' })
    await settle()
    expect(pending).toHaveLength(1)
    // The request ends: its timers, the write timeout among them, are cancelled.
    vi.clearAllTimers()
    vi.setSystemTime(Date.now() + 5000)
    // The next request tracks.
    t.track({ activityType: 'b' })
    expect(pending[0]!.signal.aborted).toBe(true)
    expect(t.stats().retried).toBe(1)
    vi.setSystemTime(Date.now() + 10)
    const flushed = t.flush({ timeoutMs: 5000 })
    await settle()
    expect(pending.map((write) => write.batch[0]!.activityType)).toEqual(['a', 'a'])
    pending[1]!.resolve({ type: 'success' })
    await settle()
    pending[2]!.resolve({ type: 'success' })
    expect(await flushed).toEqual({ delivered: true, timedOut: false, dropped: {} })
    // The abandoned write answering late changes nothing.
    pending[0]!.resolve({ type: 'success' })
    await settle()
    expect(t.stats()).toMatchObject({ sent: 2, queued: 0 })
  })

  it('a flush() handed to waitUntil ends even when the write it waits on began in an earlier request', async () => {
    const { sink, pending } = manualSink()
    const t = tracker({ sinks: [sink], batchSize: 1, writeTimeoutMs: 1000, retryBaseDelayMs: 1 })
    t.track({ activityType: 'a' })
    await settle()
    vi.clearAllTimers()
    vi.setSystemTime(Date.now() + 500)
    // Half the write timeout has passed by the clock; no timer of the first request will ever fire.
    const flushed = t.flush({ timeoutMs: 10_000 })
    await vi.advanceTimersByTimeAsync(600)
    expect(pending[0]!.signal.aborted).toBe(true)
    await vi.advanceTimersByTimeAsync(10)
    expect(pending).toHaveLength(2)
    pending[1]!.resolve({ type: 'success' })
    expect(await flushed).toMatchObject({ delivered: true })
  })

  it('with waitUntil, each request hands over a delivery that ends, even when an earlier one hangs', async () => {
    const handed: Promise<unknown>[] = []
    const { sink, pending } = manualSink()
    const t = tracker({ sinks: [sink], writeTimeoutMs: 1000, maxRetries: 100, waitUntil: (promise) => handed.push(promise) })
    t.track({ activityType: 'a' })
    await settle()
    expect(pending).toHaveLength(1)
    vi.clearAllTimers()
    vi.setSystemTime(Date.now() + 5000)
    t.track({ activityType: 'b' })
    expect(handed).toHaveLength(2)
    let ended = false
    void handed[1]!.then(() => (ended = true))
    await vi.advanceTimersByTimeAsync(2000)
    for (const write of pending.slice(1)) write.resolve({ type: 'success' })
    await vi.advanceTimersByTimeAsync(2000)
    for (const write of pending.slice(1)) write.resolve({ type: 'success' })
    await vi.advanceTimersByTimeAsync(1000)
    expect(ended).toBe(true)
    expect(t.stats()).toMatchObject({ queued: 0 })
  })
})

describe('listeners and platform hooks', () => {
  it('emits sent and dropped, survives a throwing listener, and unsubscribes', async () => {
    const onError = vi.fn()
    const sink = memorySink()
    const t = tracker({ sinks: [sink], onError })
    const sent = vi.fn()
    const stop = t.on('sent', sent)
    t.on('sent', () => {
      throw new Error('listener bug')
    })
    const dropped = vi.fn()
    t.on('dropped', dropped)
    t.track({ activityType: 'a' })
    t.track({} as never)
    await t.flush()
    expect(sent).toHaveBeenCalledWith([expect.objectContaining({ activityType: 'a' })], 'memory')
    expect(dropped).toHaveBeenCalledWith('invalid', [], expect.objectContaining({ input: {} }))
    expect(onError).toHaveBeenCalled()
    stop()
    t.track({ activityType: 'b' })
    await t.flush()
    expect(sent).toHaveBeenCalledTimes(1)
  })

  it('refuses an unknown event name with a TypeError naming the valid ones', () => {
    const t = tracker({ sinks: [memorySink()] })
    // What a JavaScript caller (or a cast) can pass.
    const on = t.on as (event: string, listener: () => void) => () => void
    expect(() => on('drop', () => {})).toThrow(new TypeError("[usertracking] Unknown event 'drop'; use 'sent', 'dropped' or 'error'."))
    expect(() => on('toString', () => {})).toThrow(TypeError)
  })

  it('hands delivery to waitUntil and starts it without waiting for the batch timers', async () => {
    const handed: Promise<unknown>[] = []
    const sink = memorySink()
    const t = tracker({ sinks: [sink], debounceTime: 60_000, flushInterval: 60_000, waitUntil: (promise) => handed.push(promise) })
    t.track({ activityType: 'a' })
    t.track({ activityType: 'b' })
    expect(handed).toHaveLength(1)
    await handed[0]
    expect(sink.activities).toHaveLength(2)
  })

  it('pause stops new writes without spending retries; resume sends what waited', async () => {
    const sink = memorySink()
    const t = tracker({ sinks: [sink], batchSize: 1 })
    t.pause()
    t.track({ activityType: 'a' })
    await vi.advanceTimersByTimeAsync(10_000)
    expect(sink.batches).toHaveLength(0)
    t.resume()
    await settle()
    expect(sink.activities).toHaveLength(1)
    expect(t.stats().retried).toBe(0)
  })
})

describe('options', () => {
  it('rejects invalid options at creation, naming the field', () => {
    expect(() => createTracker({ sinks: [] })).toThrow(/options\.sinks/)
    expect(() => createTracker({ sinks: [memorySink()], batchSize: 0 })).toThrow(/options\.batchSize/)
    expect(() => createTracker({ sinks: [memorySink()], maxQueueSize: Number.NaN })).toThrow(/options\.maxQueueSize/)
    expect(() => createTracker({ sinks: [{} as Sink] })).toThrow(/options\.sinks\[0\]/)
  })
})

describe('createCanonicalTracker', () => {
  it('validates and delivers the fields a page builds, reads no aliases, and refuses the fields it does not read', async () => {
    const sink = memorySink()
    const t = createCanonicalTracker({ sinks: [sink], debounceTime: 0, defaults: { sessionId: 's1' } })
    expect(t.track({ activityType: 'ok', userId: 'u1', anonymousId: 'a1', durationMs: 5, context: { element: 'b' }, metadata: { a: 1 } })).toBeDefined()
    expect(t.track({ action: 'alias only' })).toBeUndefined()
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(t.track({ activityType: 'bad', metadata: cyclic })).toBeUndefined()
    // Metadata is copied through JSON, as JSON APIs do: NaN becomes null, a function is left out.
    expect(t.track({ activityType: 'json', metadata: { n: Number.NaN, f: () => 1, ok: 'yes' } })).toBeDefined()
    expect(t.track({ activityType: 'aliases ignored', user_id: 7, details: { b: 2 }, timeTaken: 3 })).toBeDefined()
    const refused: unknown[] = []
    t.on('dropped', (reason, _activities, detail) => refused.push([reason, (detail.error as ValidationError).issues.map((issue) => issue.path.join('.'))]))
    expect(t.track({ activityType: 'llm', tokenUsage: { input: 2, output: 3 } })).toBeUndefined()
    expect(t.track({ activityType: 'replayed', id: '0190a0b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b', timestamp: '2026-01-01T00:00:00.000Z' })).toBeUndefined()
    expect(t.track({ activityType: 'x'.repeat(201), durationMs: -1, metadata: 'not json' })).toBeUndefined()
    expect(refused).toEqual([
      ['invalid', ['tokenUsage']],
      ['invalid', ['id', 'timestamp']],
      ['invalid', ['activityType', 'durationMs', 'metadata']],
    ])
    await t.flush()
    const [first, third, second] = sink.activities
    expect(third).toMatchObject({ activityType: 'json', metadata: { n: null, ok: 'yes' } })
    expect(third!.metadata).not.toHaveProperty('f')
    expect(first).toMatchObject({ activityType: 'ok', userId: 'u1', anonymousId: 'a1', sessionId: 's1', durationMs: 5, context: { element: 'b' }, metadata: { a: 1 } })
    expect(isUuid(first!.id)).toBe(true)
    expect(Date.parse(first!.timestamp)).toBeGreaterThan(0)
    expect(second).toMatchObject({ activityType: 'aliases ignored' })
    expect(second).not.toHaveProperty('userId')
    expect(second).not.toHaveProperty('metadata')
    expect(second).not.toHaveProperty('durationMs')
    expect(t.stats().droppedByReason).toEqual({ invalid: 5 })
  })
})
