import { isUuid, uuidv7Time } from '@usertracking/core'
import { describe, expect, it } from 'vitest'
import { liteId } from './lite-id'

describe('liteId', () => {
  it('makes UUIDv7s that core and the stores accept, with the time they were made', () => {
    const id = liteId(1_750_000_000_123)
    expect(isUuid(id)).toBe(true)
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(uuidv7Time(id)).toBe(1_750_000_000_123)
  })

  it('never repeats within a burst, and sorts by millisecond', () => {
    const ids = Array.from({ length: 10_000 }, () => liteId(1_750_000_000_000))
    expect(new Set(ids).size).toBe(ids.length)
    expect(liteId(1_750_000_000_001) > liteId(1_750_000_000_000)).toBe(true)
  })
})
