import { describe, expect, it } from 'vitest'
import { createFormat } from './format'

const format = createFormat('en-US', 'America/New_York')

describe('createFormat', () => {
  it('reads durations as people say them', () => {
    expect([850, 3200, 59_940, 125_000, 3_840_000].map(format.duration)).toEqual(['850 ms', '3.2 s', '59.9 s', '2 min 5 s', '1 h 4 min'])
    expect(format.duration(undefined)).toBe('—')
  })

  it('groups token counts and shows sub-cent costs with their digits', () => {
    expect(format.number(1420)).toBe('1,420')
    expect(createFormat('de-DE').number(1420)).toBe('1.420')
    expect(format.money(0.004213)).toBe('$0.0042')
    expect(format.money(12.4)).toBe('$12.40')
    expect(format.cost({ total: 0.0123, currency: 'USD', source: 'custom' })).toBe('$0.012')
    expect(format.cost({ currency: 'USD', source: 'custom', unpriced: true })).toBe('Unknown')
  })

  it('keeps the cents of amounts under a dollar and two significant digits below a cent', () => {
    expect([0.3, 0.5, 0.99, 0.1234, 0.05, 0.015, 0.01, 0.004213, 0.005, 0.0000001].map(format.money)).toEqual(['$0.30', '$0.50', '$0.99', '$0.12', '$0.05', '$0.015', '$0.01', '$0.0042', '$0.005', '$0.0000001'])
    expect([0, 0.999, 1, 1234.5].map(format.money)).toEqual(['$0.00', '$1.00', '$1.00', '$1,234.50'])
    expect(format.cost({ total: 0.3, currency: 'USD', source: 'custom' })).toBe('$0.30')
    expect(createFormat('de-DE').money(0.3)).toBe('0,30\u00a0$')
  })

  it('shows timestamps in the viewer’s time zone and locale', () => {
    expect(format.timestamp('2025-07-06T10:05:00Z')).toBe('Jul 6, 2025, 6:05 AM')
    expect(createFormat('en-GB', 'Asia/Tokyo').timestamp('2025-07-06T10:05:00Z')).toBe('6 Jul 2025, 19:05')
  })

  it('labels day buckets by their UTC day and shorter buckets by the time of day', () => {
    expect(format.bucket('2025-07-06T00:00:00.000Z', 86_400_000)).toBe('Jul 6')
    expect(format.bucket('2025-07-06T16:00:00.000Z', 3_600_000)).toBe('12:00 PM')
  })
})
