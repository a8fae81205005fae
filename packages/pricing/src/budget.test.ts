import type { Activity } from '@usertracking/core'
import { describe, expect, it } from 'vitest'
import { createBudget } from './budget'

const DAY = 86_400_000

function call(userId: string | undefined, total: number | undefined): Activity {
  return {
    id: '0190b7a6-0000-7000-8000-000000000000',
    activityType: 'chat',
    timestamp: '2025-07-06T10:05:00.000Z',
    ...(userId ? { userId } : {}),
    tokenUsage: { input: 10, output: 10, total: 20, model: 'gpt-4o' },
    cost: total === undefined ? { currency: 'USD', source: 'custom', unpriced: true } : { total, currency: 'USD', source: 'custom' },
  }
}

function budget(limit: number, options: { maxUsers?: number; windowMs?: number } = {}) {
  // A Monday, 10:00 UTC (1970-01-01, where week-long windows start, was a Thursday).
  let clock = Date.UTC(2025, 6, 7, 10)
  const exceeded: [string, number][] = []
  const errors: unknown[] = []
  const guard = createBudget({
    limit,
    ...options,
    now: () => clock,
    onBudgetExceeded: (userId, spent) => {
      exceeded.push([userId, spent])
    },
    onError: (error) => errors.push(error),
  })
  return { guard, exceeded, errors, advance: (ms: number) => (clock += ms) }
}

describe('createBudget', () => {
  it('calls onBudgetExceeded once, when a user’s spending in the window passes the limit', () => {
    const { guard, exceeded } = budget(1)
    const activity = call('alice', 0.4)
    expect(guard.observe(activity)).toBe(activity)
    guard.observe(call('alice', 0.6))
    expect(exceeded).toEqual([])
    guard.observe(call('alice', 0.1))
    guard.observe(call('alice', 5))
    expect(exceeded).toEqual([['alice', 1.1]])
    expect(guard.spent('alice')).toBe(6.1)
  })

  it('counts each user apart, and skips activities without a user or a priced cost', () => {
    const { guard, exceeded } = budget(1)
    guard.observe(call('alice', 0.9))
    guard.observe(call('bob', 0.9))
    guard.observe(call(undefined, 10))
    guard.observe(call('alice', undefined))
    expect(exceeded).toEqual([])
    expect([guard.spent('alice'), guard.spent('bob'), guard.spent('carol')]).toEqual([0.9, 0.9, 0])
  })

  it('starts every window from zero, windows aligned to the epoch (a day from 00:00 UTC)', () => {
    const { guard, exceeded, advance } = budget(1)
    guard.observe(call('alice', 2))
    expect(exceeded).toHaveLength(1)
    advance(13 * 3_600_000) // 10:00 → 23:00, the same day
    guard.observe(call('alice', 2))
    expect(exceeded).toHaveLength(1)
    advance(2 * 3_600_000) // past midnight UTC
    expect(guard.spent('alice')).toBe(0)
    guard.observe(call('alice', 2))
    expect(exceeded).toEqual([
      ['alice', 2],
      ['alice', 2],
    ])
  })

  it('hands a throwing or rejecting hook’s error to onError and keeps counting', async () => {
    const errors: unknown[] = []
    let rejection: Promise<void> | undefined
    const guard = createBudget({
      limit: 0,
      onBudgetExceeded: (userId) => {
        if (userId === 'thrower') throw new Error('hook threw')
        rejection = Promise.reject(new Error('hook rejected'))
        return rejection
      },
      onError: (error) => errors.push(error),
    })
    guard.observe(call('thrower', 1))
    guard.observe(call('rejecter', 1))
    await rejection!.catch(() => {})
    expect(errors.map((error) => (error as Error).message)).toEqual(['hook threw', 'hook rejected'])
    expect(guard.spent('thrower')).toBe(1)
  })

  it('remembers at most maxUsers users per window, forgetting the first seen', () => {
    const { guard } = budget(100, { maxUsers: 2 })
    guard.observe(call('a', 1))
    guard.observe(call('b', 1))
    guard.observe(call('c', 1))
    expect([guard.spent('a'), guard.spent('b'), guard.spent('c')]).toEqual([0, 1, 1])
  })

  it.each([
    [{ limit: -1 }, 'options.limit'],
    [{ limit: Number.POSITIVE_INFINITY }, 'options.limit'],
    [{ limit: 1, windowMs: 0 }, 'options.windowMs'],
    [{ limit: 1, maxUsers: 1.5 }, 'options.maxUsers'],
    [{ limit: 1, onBudgetExceeded: 'email me' }, 'options.onBudgetExceeded'],
  ])('rejects %j at creation, naming the field', (options, field) => {
    expect(() => createBudget({ onBudgetExceeded: () => {}, ...options } as never)).toThrow(`[usertracking] [pricing] ${field} must`)
  })

  it('keeps counting across days with a week-long window', () => {
    const { guard, advance } = budget(1, { windowMs: 7 * DAY })
    guard.observe(call('alice', 0.5))
    advance(DAY)
    expect(guard.spent('alice')).toBe(0.5)
  })
})
