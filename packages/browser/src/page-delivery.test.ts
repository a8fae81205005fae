import { createCanonicalTracker, createLogger, memoryStorage, type Logger, type Sink, type SinkResult } from '@usertracking/core'
import { describeTrackerBehaviour } from '@usertracking/testkit'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPageDelivery, type PageDelivery } from './page-delivery'

// The same suite for both: the page's delivery core keeps what core's tracker promises.
describeTrackerBehaviour('createPageDelivery', (options) => createPageDelivery({ ...options, logger: createLogger(false) }))
describeTrackerBehaviour('createCanonicalTracker', createCanonicalTracker)

// What the page's core does beyond core's tracker (which the shared suite would fail).
describe('createPageDelivery', () => {
  let errors: unknown[]
  let logger: Logger
  let delivery: PageDelivery
  const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms)
  /** A delivery to a sink answering `answers` in turn, then success; `writes` counts its calls. */
  const start = (answers: unknown[], storage = memoryStorage()) => {
    const sink: Sink & { writes: number } = {
      name: 'scripted',
      writes: 0,
      async write() {
        return (sink.writes < answers.length ? answers[sink.writes++] : (sink.writes++, { type: 'success' })) as SinkResult
      },
    }
    delivery = createPageDelivery({ sinks: [sink], storage, debounceTime: 0, logger })
    return sink
  }

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    errors = []
    logger = { debug() {}, warn() {}, error: (_message, error) => errors.push(error) }
  })
  afterEach(async () => {
    const done = delivery.shutdown({ timeoutMs: 0 })
    await advance(0)
    await done
    vi.useRealTimers()
    vi.restoreAllMocks()
  })

  it('reports a malformed answer and retries the batch, as core does, rather than losing it', async () => {
    // Malformed: `rejected` not a list, a list holding null, no answer at all.
    const sink = start([{ type: 'success', rejected: 'no' }, { type: 'success', rejected: [null] }, undefined])
    delivery.track({ activityType: 'a' })
    const flushed = delivery.flush()
    await advance(10_000)
    expect(sink.writes).toBe(4)
    expect(await flushed).toBe(true)
    expect(delivery.stats()).toMatchObject({ sent: 1, retried: 3, dropped: 0, queued: 0 })
    expect(errors).toHaveLength(3)
    expect(errors.every((error) => error instanceof TypeError)).toBe(true)
  })

  it('backs off as usual for a retryInMs below zero or not a number, rather than retrying at once', async () => {
    // Jitter fixed at half the ceiling: 500 ms, then 1000 ms.
    vi.spyOn(Math, 'random').mockReturnValue(0.5)
    const sink = start([
      { type: 'retryable', retryInMs: -1 },
      { type: 'retryable', retryInMs: Number.NaN },
    ])
    delivery.track({ activityType: 'a' })
    await advance(0)
    expect(sink.writes).toBe(1)
    await advance(500)
    expect(sink.writes).toBe(2)
    await advance(999)
    expect(sink.writes).toBe(2)
    await advance(1)
    expect(sink.writes).toBe(3)
  })

  it('leaves no timer behind after shutdown(), neither its flush’s nor a backoff’s', async () => {
    start([{ type: 'retryable', retryInMs: 60_000 }])
    delivery.track({ activityType: 'a' })
    await advance(0)
    expect(vi.getTimerCount()).toBe(1)
    const stopped = delivery.shutdown({ timeoutMs: 1000 })
    await advance(1000)
    expect(await stopped).toBe(false)
    expect(vi.getTimerCount()).toBe(0)

    start([])
    delivery.track({ activityType: 'b' })
    expect(await delivery.shutdown()).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('answers flush(timeoutMs) and shutdown() in time while the storage never loads (a blocked IndexedDB)', async () => {
    const sink = start([], { ...memoryStorage(), load: () => new Promise(() => {}) })
    delivery.track({ activityType: 'a' })
    // Read as they settle, so that one that never does fails here rather than at the test's timeout.
    const answers: boolean[] = []
    void delivery.flush(500).then((delivered) => answers.push(delivered))
    await advance(500)
    expect(answers).toEqual([false])
    void delivery.shutdown({ timeoutMs: 500 }).then((delivered) => answers.push(delivered))
    await advance(500)
    expect(answers).toEqual([false, false])
    expect(sink.writes).toBe(0)
  })

  it('delivers everything an earlier page left, however many (more than a function call takes arguments)', async () => {
    const storage = memoryStorage()
    const left = Array.from({ length: 150_000 }, (_, index) => ({ id: `0190a000-0000-7000-8000-${String(index).padStart(12, '0')}`, activityType: 'left', timestamp: '2026-01-01T00:00:00.000Z' }))
    await storage.add(left)
    let delivered = 0
    delivery = createPageDelivery({ sinks: [{ name: 'count', write: async (batch) => ((delivered += batch.length), { type: 'success' }) }], storage, batchSize: 10_000, logger })
    const flushed = delivery.flush()
    await advance(1000)
    expect(await flushed).toBe(true)
    expect(delivered).toBe(150_000)
    expect(errors).toEqual([])
  })
})
