import { describe, expect, it } from 'vitest'
import type { Activity } from './activity'
import { checkOffset, computeStats, statsGroupKey } from './stats'
import { MAX_LIST_OFFSET } from './store'

const HOUR = 3_600_000
let counter = 0
function activity(fields: Partial<Activity>): Activity {
  counter++
  return { id: `id-${counter}`, activityType: 'page_visit', timestamp: '2025-07-06T00:00:00.000Z', ...fields }
}

describe('computeStats', () => {
  const rows = [
    activity({ userId: 'u1', sessionId: 's1', tokenUsage: { input: 10, output: 5, total: 15 }, cost: { total: 0.5, currency: 'USD', source: 't' } }),
    activity({ userId: 'u1', anonymousId: 'a1', activityType: 'chat', durationMs: 100, cost: { unpriced: true, currency: 'USD', source: 't' }, tokenUsage: { total: 7 } }),
    activity({ anonymousId: 'a1', sessionId: 's1', durationMs: 300, context: { page: '/a', host: 'x.test' } }),
    activity({ anonymousId: 'a2', sessionId: 's2', activityType: 'chat', timestamp: '2025-07-06T05:00:00.000Z', receivedAt: '2025-07-06T09:30:00.000Z', context: { page: '/a' } }),
  ]

  it('counts users, visitors (a user, else the anonymous id) and sessions', () => {
    const stats = computeStats(rows)
    expect(stats).toMatchObject({ total: 4, uniqueUsers: 1, uniqueVisitors: 3, sessions: 2 })
    expect(stats.tokens).toEqual({ input: 10, output: 5, total: 22 })
    expect(stats.cost).toEqual({ total: 0.5, currency: 'USD', unpriced: 1 })
    expect(stats.duration).toEqual({ avgMs: 200, p50Ms: 200, p95Ms: 290 })
    expect(stats.byType).toEqual([
      { activityType: 'chat', count: 2, tokens: 7, cost: 0 },
      { activityType: 'page_visit', count: 2, tokens: 15, cost: 0.5 },
    ])
  })

  it('buckets by time on either axis, leaving out activities that lack the axis', () => {
    expect(computeStats(rows, { groupBy: { intervalMs: 4 * HOUR } }).buckets).toEqual([
      { start: '2025-07-06T00:00:00.000Z', count: 3, tokens: 22, cost: 0.5 },
      { start: '2025-07-06T04:00:00.000Z', count: 1, tokens: 0, cost: 0 },
    ])
    expect(computeStats(rows, { groupBy: { intervalMs: 4 * HOUR, on: 'receivedAt' } }).buckets).toEqual([
      { start: '2025-07-06T08:00:00.000Z', count: 1, tokens: 0, cost: 0 },
    ])
  })

  it('buckets per key without an interval, largest first, leaving out activities without the key', () => {
    expect(computeStats(rows, { groupBy: { per: 'visitor' } }).buckets).toEqual([
      { key: 'u1', count: 2, tokens: 22, cost: 0.5 },
      { key: 'a1', count: 1, tokens: 0, cost: 0 },
      { key: 'a2', count: 1, tokens: 0, cost: 0 },
    ])
    expect(computeStats(rows, { groupBy: { per: 'page' } }).buckets).toEqual([{ key: '/a', count: 2, tokens: 0, cost: 0 }])
    expect(computeStats(rows, { groupBy: { per: 'host', intervalMs: HOUR } }).buckets).toEqual([
      { start: '2025-07-06T00:00:00.000Z', key: 'x.test', count: 1, tokens: 0, cost: 0 },
    ])
  })

  it('refuses a groupBy with neither an interval nor a key, naming the store', () => {
    expect(() => computeStats(rows, { groupBy: {} }, 'mine')).toThrow(/\[mine\] groupBy needs/)
    expect(() => computeStats(rows, { groupBy: { per: 'country' as never } })).toThrow(RangeError)
  })
})

describe('statsGroupKey', () => {
  it('ignores a page or host that is not a string', () => {
    expect(statsGroupKey(activity({ context: { page: 3 as never } }), 'page')).toBeUndefined()
    expect(statsGroupKey(activity({ userId: 'u', anonymousId: 'a' }), 'visitor')).toBe('u')
  })
})

describe('checkOffset', () => {
  it('accepts whole numbers up to MAX_LIST_OFFSET and refuses the rest, or one with a cursor', () => {
    expect(checkOffset({}, 's')).toBe(0)
    expect(checkOffset({ offset: MAX_LIST_OFFSET }, 's')).toBe(MAX_LIST_OFFSET)
    expect(checkOffset({ offset: 0, cursor: 'c' }, 's')).toBe(0)
    for (const offset of [-1, 0.5, MAX_LIST_OFFSET + 1, Number.NaN]) expect(() => checkOffset({ offset }, 's')).toThrow(RangeError)
    expect(() => checkOffset({ offset: 3, cursor: 'c' }, 's')).toThrow(/cannot be combined/)
  })
})
