import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Activity } from './activity'
import type { Sink, SinkResult } from './sink'
import { createTracker } from './tracker'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe('a write that belongs to a request that has ended (Cloudflare Workers)', () => {
  it('is abandoned and sent again even though aborting it throws, and track() and flush() stay quiet', async () => {
    const writes: { batch: Activity[]; resolve: (result: SinkResult) => void }[] = []
    const sink: Sink = { name: 'manual', write: (batch) => new Promise<SinkResult>((resolve) => writes.push({ batch, resolve })) }
    const onDrop = vi.fn()
    const t = createTracker({ sinks: [sink], batchSize: 1, writeTimeoutMs: 1000, retryBaseDelayMs: 1, warnings: false, onDrop })
    t.track({ activityType: 'a' })
    await vi.advanceTimersByTimeAsync(0)
    expect(writes).toHaveLength(1)
    // The request that started the write ends: workerd cancels its timers and its fetch, and from
    // then on aborting that fetch's signal from another request throws.
    vi.clearAllTimers()
    vi.spyOn(AbortController.prototype, 'abort').mockImplementation(() => {
      throw new Error('Cannot perform I/O on behalf of a different request. (I/O type: RefcountedCanceler)')
    })
    vi.setSystemTime(Date.now() + 5000)
    // The next request: its track() notices the write is older than writeTimeoutMs by the clock.
    expect(t.track({ activityType: 'b' })).toEqual(expect.any(String))
    expect(t.stats()).toMatchObject({ retried: 1, dropped: 0 })
    const flushed = t.flush({ timeoutMs: 5000 })
    await vi.advanceTimersByTimeAsync(10)
    expect(writes.map((write) => write.batch[0]!.activityType)).toEqual(['a', 'a'])
    writes[1]!.resolve({ type: 'success' })
    await vi.advanceTimersByTimeAsync(0)
    writes[2]!.resolve({ type: 'success' })
    expect(await flushed).toEqual({ delivered: true, timedOut: false, dropped: {} })
    expect(t.stats()).toMatchObject({ sent: 2, queued: 0, dropped: 0 })
    expect(onDrop).not.toHaveBeenCalled()
  })
})
