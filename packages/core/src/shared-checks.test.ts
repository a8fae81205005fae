import { afterEach, describe, expect, it, vi } from 'vitest'
import { checkDeletionSubject, checkIdentityLink, MAX_TIMER_MS, positiveOption, settleWithin } from './index'

afterEach(() => {
  vi.useRealTimers()
})

describe('positiveOption', () => {
  it('takes the default, a positive number, and names the option it refuses', () => {
    expect(positiveOption(undefined, 'options.batchSize', 500, { scope: 'redis' })).toBe(500)
    expect(positiveOption(2.5, 'options.delayMs', 1, { scope: 'server' })).toBe(2.5)
    expect(() => positiveOption(0, 'options.batchSize', 500, { scope: 'redis', integer: true })).toThrow('[usertracking] [redis] options.batchSize must be a positive whole number; got 0.')
    expect(() => positiveOption(1.5, 'options.batchSize', 500, { scope: 'redis', integer: true })).toThrow(TypeError)
    expect(() => positiveOption('5', 'options.x', 1, { scope: 'server' })).toThrow('options.x must be a positive number; got 5.')
    expect(() => positiveOption(MAX_TIMER_MS + 1, 'options.live.heartbeatMs', 1, { scope: 'server', max: MAX_TIMER_MS })).toThrow(
      `options.live.heartbeatMs must be at most ${MAX_TIMER_MS}`,
    )
  })
})

describe('identify and deletion arguments', () => {
  it('accept exactly what the Store contract says, and refuse the rest naming the store', () => {
    expect(checkIdentityLink({ userId: 'u', anonymousId: 'a' }, 'memory')).toEqual({ userId: 'u', anonymousId: 'a' })
    expect(() => checkIdentityLink({ userId: '', anonymousId: 'a' }, 'postgres')).toThrow('[usertracking] [postgres] identify() needs a non-empty userId and anonymousId.')
    expect(() => checkIdentityLink(undefined as never, 'postgres')).toThrow(TypeError)
    expect(checkDeletionSubject({ userId: 'u' }, 'memory')).toEqual({ userId: 'u' })
    expect(checkDeletionSubject({ anonymousId: 'a' }, 'memory')).toEqual({ anonymousId: 'a' })
    for (const subject of [{}, { userId: 'u', anonymousId: 'a' }, { userId: '' }, { anonymousId: 7 }, null]) {
      expect(() => checkDeletionSubject(subject as never, 'firestore'), JSON.stringify(subject)).toThrow(
        '[usertracking] [firestore] deleteActivities() needs exactly one of a non-empty userId or anonymousId.',
      )
    }
  })
})

describe('settleWithin', () => {
  it('settles like the work when it is in time', async () => {
    await expect(settleWithin(Promise.resolve(7), 1000, () => new Error('late'))).resolves.toBe(7)
    await expect(settleWithin(Promise.reject(new Error('refused')), 1000, () => new Error('late'))).rejects.toThrow('refused')
  })

  it('rejects with the time-out error once the limit passed, and handles the late rejection', async () => {
    vi.useFakeTimers()
    let fail!: (error: Error) => void
    const work = new Promise<number>((_, reject) => (fail = reject))
    const answer = settleWithin(work, 50, () => new Error('too slow'))
    const outcome = expect(answer).rejects.toThrow('too slow')
    await vi.advanceTimersByTimeAsync(50)
    await outcome
    // Rejected after the limit: handled by settleWithin (an unhandled rejection would fail this test run).
    fail(new Error('late failure'))
    await vi.advanceTimersByTimeAsync(0)
  })

  it('hands a late rejection to onLateFailure, and survives it throwing', async () => {
    vi.useFakeTimers()
    const late: unknown[] = []
    let fail!: (error: Error) => void
    const answer = settleWithin(new Promise<number>((_, reject) => (fail = reject)), 50, () => new Error('too slow'), (error) => {
      late.push(error)
      throw new Error('the logger threw')
    })
    const outcome = expect(answer).rejects.toThrow('too slow')
    await vi.advanceTimersByTimeAsync(50)
    await outcome
    expect(late).toEqual([])
    fail(new Error('late failure'))
    await vi.advanceTimersByTimeAsync(0)
    expect(late).toEqual([new Error('late failure')])
  })

  it('rejects with what the builder threw when it throws', async () => {
    vi.useFakeTimers()
    const answer = settleWithin(new Promise(() => {}), 10, () => {
      throw new Error('the builder threw')
    })
    const outcome = expect(answer).rejects.toThrow('the builder threw')
    await vi.advanceTimersByTimeAsync(10)
    await outcome
  })
})
