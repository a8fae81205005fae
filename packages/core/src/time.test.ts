import { describe, expect, it } from 'vitest'
import { toIsoString } from './time'

describe('toIsoString', () => {
  it('formats exactly like Date#toISOString across days, years and odd instants', () => {
    const instants = [0, 1, 999, 86_399_999, 86_400_000, Date.parse('2024-02-29T23:59:59.999Z'), Date.parse('2025-07-06T10:05:00Z'), -1, 253_402_300_799_999, 1.5]
    for (let ms = Date.parse('2026-11-22T00:00:00Z'); ms < Date.parse('2026-11-25T00:00:00Z'); ms += 3_599_997) instants.push(ms)
    for (const ms of instants) expect(toIsoString(ms)).toBe(new Date(ms).toISOString())
  })
})
