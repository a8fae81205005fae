import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushBeforeReturn } from './flush-before-return'
import { memorySink } from './memory-sink'
import { createTracker } from './tracker'
import type { FlushReport } from './tracker'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

/**
 * A plain object of AWS Lambda's context shape (the fields a handler reads most; test/runtimes has
 * the whole `Context` type), whose remaining time runs out `timeoutMs` from now by the fake clock.
 */
function lambdaContext(timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  return { functionName: 'report', awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678', getRemainingTimeInMillis: () => deadline - Date.now() }
}

/** A sink whose writes never answer: the sink is down and the connection hangs. */
const hangingSink = () => memorySink({ respond: () => new Promise(() => {}) })

describe('flushBeforeReturn', () => {
  it('returns the handler’s result only once what it tracked is delivered', async () => {
    const sink = memorySink()
    const tracker = createTracker({ sinks: [sink], warnings: false })
    const handler = flushBeforeReturn(tracker, async (event: { userId: string }) => {
      tracker.track({ userId: event.userId, activityType: 'report_generated' })
      return { statusCode: 200 }
    })
    const result = await handler({ userId: 'u1' }, lambdaContext(30_000))
    expect(result).toEqual({ statusCode: 200 })
    expect(sink.activities.map((activity) => activity.userId)).toEqual(['u1'])
  })

  it('stops waiting reserveMs before the remaining time runs out, returns the result, and reports what is left', async () => {
    const tracker = createTracker({ sinks: [hangingSink()], warnings: false })
    const reports: FlushReport[] = []
    const handler = flushBeforeReturn(
      tracker,
      async () => {
        tracker.track({ activityType: 'report_generated' })
        return 'done'
      },
      { reserveMs: 500, onUndelivered: (report) => reports.push(report) },
    )
    let returned: string | undefined
    void handler({}, lambdaContext(3000)).then((result) => (returned = result))
    await vi.advanceTimersByTimeAsync(2499)
    expect(returned).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(returned).toBe('done')
    expect(reports).toEqual([{ delivered: false, timedOut: true, dropped: {} }])
    // Still queued, not dropped: a later invocation of this instance delivers it.
    expect(tracker.stats()).toMatchObject({ queued: 1, dropped: 0 })
  })

  it('returns at once when less than reserveMs remains', async () => {
    const tracker = createTracker({ sinks: [hangingSink()], warnings: false })
    const handler = flushBeforeReturn(tracker, () => tracker.track({ activityType: 'late' }), { reserveMs: 500 })
    const returned = handler({}, lambdaContext(400))
    await vi.advanceTimersByTimeAsync(0)
    await expect(returned).resolves.toEqual(expect.any(String))
  })

  it('flushes before rethrowing the handler’s error', async () => {
    const sink = memorySink()
    const tracker = createTracker({ sinks: [sink], warnings: false })
    const failure = new Error('the report failed')
    const handler = flushBeforeReturn(tracker, async () => {
      tracker.track({ activityType: 'report_generated', status: 'error' })
      throw failure
    })
    await expect(handler({}, lambdaContext(30_000))).rejects.toBe(failure)
    expect(sink.activities).toHaveLength(1)
  })

  it('bounds the flush by maxFlushMs, also for a context that cannot tell its remaining time', async () => {
    const tracker = createTracker({ sinks: [hangingSink()], warnings: false })
    const onUndelivered = vi.fn(() => {
      throw new Error('a reporting bug never costs the answer')
    })
    const handler = flushBeforeReturn(tracker, () => tracker.track({ activityType: 'a' }) && 'ok', { maxFlushMs: 1000, onUndelivered })
    for (const context of [lambdaContext(60_000), {}, undefined]) {
      let returned: string | undefined
      void handler({}, context).then((result) => (returned = result))
      await vi.advanceTimersByTimeAsync(999)
      expect(returned).toBeUndefined()
      await vi.advanceTimersByTimeAsync(1)
      expect(returned).toBe('ok')
    }
    expect(onUndelivered).toHaveBeenCalledTimes(3)
  })

  it('refuses an invalid option with a TypeError naming it', () => {
    const tracker = createTracker({ sinks: [memorySink()], warnings: false })
    expect(() => flushBeforeReturn(tracker, () => 1, { reserveMs: -1 })).toThrow(/options\.reserveMs must be a number/)
    expect(() => flushBeforeReturn(tracker, () => 1, { maxFlushMs: Number.NaN })).toThrow(/options\.maxFlushMs/)
    expect(() => flushBeforeReturn(tracker, () => 1, { onUndelivered: 'log' as never })).toThrow(/options\.onUndelivered must be a function/)
  })
})
