import { describe, expect, it } from 'vitest'
import { smallUuidv7 } from './small-uuid'
import { isUuid, uuidv7, uuidv7Time } from './uuid'

// The server's pooled uuidv7 and the bundle's smallUuidv7 make the same ids: one suite for both.
describe.each([
  ['uuidv7', uuidv7],
  ['smallUuidv7', smallUuidv7],
])('%s', (_name, make) => {
  it('is a version 7, variant 10 UUID embedding the time', () => {
    for (let round = 0; round < 100; round++) {
      const now = Date.now() + 60_000 + round
      const id = make(now)
      expect(isUuid(id)).toBe(true)
      expect(id).toBe(id.toLowerCase())
      expect(id[14]).toBe('7')
      expect(['8', '9', 'a', 'b']).toContain(id[19])
      expect(uuidv7Time(id)).toBe(now)
    }
  })

  it('embeds the time of each millisecond when several ids share one', () => {
    const start = Date.now() + 90_000
    for (let round = 0; round < 100; round++) {
      const now = start + Math.floor(round / 3)
      expect(uuidv7Time(make(now))).toBe(now)
    }
  })

  it('sorts in creation order, even thousands within one millisecond or with a clock that steps back', () => {
    const at = Date.now() + 120_000
    const ids = Array.from({ length: 10_000 }, (_, index) => make(index < 5000 ? at : at - 1000))
    expect([...ids].sort()).toEqual(ids)
    expect(new Set(ids).size).toBe(ids.length)
  })
})
