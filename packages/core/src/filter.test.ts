import { describe, expect, it } from 'vitest'
import type { Activity } from './activity'
import { activityMatcher, matchesFilter } from './filter'

const at = '2025-07-06T10:00:00.000Z'
const base: Activity = { id: '0190a0a0-0000-7000-8000-000000000000', activityType: 'job_match', timestamp: at }

describe('activityMatcher', () => {
  it('selects everything with an empty filter', () => {
    expect(matchesFilter(base, {})).toBe(true)
  })

  it('includes `from` and excludes `to`, for ISO strings and Dates alike', () => {
    expect(matchesFilter(base, { from: at })).toBe(true)
    expect(matchesFilter(base, { from: new Date(Date.parse(at) + 1) })).toBe(false)
    expect(matchesFilter(base, { to: at })).toBe(false)
    expect(matchesFilter(base, { to: new Date(Date.parse(at) + 1) })).toBe(true)
  })

  it('excludes activities without token usage from any token bound, 0 included', () => {
    expect(matchesFilter(base, { minTokens: 0 })).toBe(false)
    expect(matchesFilter({ ...base, tokenUsage: { total: 0 } }, { minTokens: 0 })).toBe(true)
    expect(matchesFilter({ ...base, tokenUsage: { total: 500 } }, { minTokens: 100, maxTokens: 500 })).toBe(true)
    expect(matchesFilter({ ...base, tokenUsage: { total: 501 } }, { maxTokens: 500 })).toBe(false)
  })

  it('matches one type or any of several, and the user and status exactly', () => {
    const matches = activityMatcher({ activityType: ['click', 'job_match'], userId: 'u1', status: 'error' })
    expect(matches({ ...base, userId: 'u1', status: 'error' })).toBe(true)
    expect(matches({ ...base, userId: 'u1' })).toBe(false)
    expect(matches({ ...base, userId: 'U1', status: 'error' })).toBe(false)
    expect(matchesFilter(base, { activityType: 'click' })).toBe(false)
  })
})

describe('activityMatcher, visitor and received-time fields', () => {
  it('matches the anonymous id and the session exactly', () => {
    const visitor = { ...base, anonymousId: 'anon-1', sessionId: 's-1' }
    expect(matchesFilter(visitor, { anonymousId: 'anon-1', sessionId: 's-1' })).toBe(true)
    expect(matchesFilter(visitor, { anonymousId: 'anon-2' })).toBe(false)
    expect(matchesFilter(base, { sessionId: 's-1' })).toBe(false)
  })

  it('bounds receivedAt like timestamp, and leaves out activities not received yet', () => {
    const received = { ...base, receivedAt: '2025-07-06T12:00:00.000Z' }
    expect(matchesFilter(received, { receivedFrom: '2025-07-06T12:00:00.000Z' })).toBe(true)
    expect(matchesFilter(received, { receivedTo: '2025-07-06T12:00:00.000Z' })).toBe(false)
    expect(matchesFilter(received, { receivedTo: new Date(Date.UTC(2025, 6, 6, 12, 0, 0, 1)) })).toBe(true)
    expect(matchesFilter(base, { receivedFrom: '2000-01-01T00:00:00.000Z' })).toBe(false)
    // `from` / `to` still read the time the user acted, not the time it was received.
    expect(matchesFilter(received, { to: '2025-07-06T11:00:00.000Z' })).toBe(true)
  })
})
