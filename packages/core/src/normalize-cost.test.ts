import { describe, expect, it } from 'vitest'
import { normalizeActivity } from './normalize'
import { normalizeCanonicalActivity } from './normalize-canonical'
import { parseActivity } from './schema'

const priced = { total: 0.0035, input: 0.0025, output: 0.001, currency: 'USD', source: 'genai-prices@0.1.8' }

describe('cost in normalizeActivity and parseActivity', () => {
  it('keeps a priced and an unpriced cost, through the schema too', () => {
    const result = normalizeActivity({ activityType: 'chat', tokenUsage: { input: 1000, output: 100 }, cost: priced })
    expect(result.ok && result.activity.cost).toEqual(priced)
    const unpriced = parseActivity({ activityType: 'chat', tokenUsage: 10, cost: { currency: 'USD', source: 'custom', unpriced: true } })
    expect(unpriced.success && unpriced.data.cost).toEqual({ currency: 'USD', source: 'custom', unpriced: true })
    const parsed = parseActivity({ activityType: 'chat', cost: priced })
    expect(parsed.success && parsed.data.cost).toEqual(priced)
  })

  it.each([
    [{ ...priced, currency: 'EUR' }, 'cost.currency'],
    [{ ...priced, total: -1 }, 'cost.total'],
    [{ ...priced, output: Number.NaN }, 'cost.output'],
    [{ ...priced, input: 2_000_000 }, 'cost.input'],
    [{ ...priced, source: '' }, 'cost.source'],
    [{ ...priced, unpriced: 'yes' }, 'cost.unpriced'],
    ['0.01', 'cost'],
  ])('rejects %j, naming %s', (cost, path) => {
    const result = normalizeActivity({ activityType: 'chat', cost })
    expect(result.ok).toBe(false)
    expect(!result.ok && result.issues.map((issue) => issue.path.join('.'))).toContain(path)
  })

  it('is refused by the canonical normaliser of the browser bundle, which does not read it', () => {
    const result = normalizeCanonicalActivity({ activityType: 'chat', cost: priced })
    expect(!result.ok && result.issues.map((issue) => issue.path.join('.'))).toEqual(['cost'])
  })
})
