import { describe, expect, it } from 'vitest'
import { backoffDelay, parseRetryAfter } from './backoff'

describe('backoffDelay', () => {
  it('draws uniformly below a ceiling that doubles per attempt and stops at the maximum', () => {
    expect(backoffDelay(1, 1000, 60_000, () => 0.999)).toBe(999)
    expect(backoffDelay(2, 1000, 60_000, () => 0.5)).toBe(1000)
    expect(backoffDelay(4, 1000, 60_000, () => 0.5)).toBe(4000)
    expect(backoffDelay(30, 1000, 60_000, () => 0.5)).toBe(30_000)
    expect(backoffDelay(3, 1000, 60_000, () => 0)).toBe(0)
  })
})

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2025-01-01T00:00:00Z')
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter('1.5', now)).toBe(1500)
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(null, now)).toBeUndefined()
  })
})
