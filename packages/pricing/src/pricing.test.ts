import type { Activity } from '@usertracking/core'
import { describe, expect, it } from 'vitest'
import { createPricing } from './pricing'
import { TABLE_SOURCE } from './price-table'

// Prices of the pinned table (USD per million tokens): gpt-4o input 2.50, cached input 1.25,
// output 10; claude-sonnet-4 input 3, cache read 0.30, cache write 3.75, output 15.
const chat = { input: 12, cacheRead: 4, output: 30, total: 42, model: 'gpt-4o' }
const claude = { input: 35, cacheRead: 10, cacheWrite: 5, output: 15, total: 50, model: 'claude-sonnet-4-20250514' }

describe('createPricing().price', () => {
  it('prices OpenAI usage from the table, cached input tokens at their own rate', () => {
    expect(createPricing().price(chat)).toEqual({ total: 0.000325, input: 0.000025, output: 0.0003, currency: 'USD', source: TABLE_SOURCE })
  })

  it('prices Anthropic cache reads and writes at their own rates', () => {
    // input: 20 × 3 + 10 × 0.30 + 5 × 3.75 = 81.75 per million; output: 15 × 15 = 225 per million.
    expect(createPricing().price(claude)).toEqual({ total: 0.00030675, input: 0.00008175, output: 0.000225, currency: 'USD', source: TABLE_SOURCE })
  })

  it('applies tiered prices: long Gemini prompts cost more per token', () => {
    const short = createPricing().price({ input: 100_000, output: 0, total: 100_000, model: 'gemini-2.5-pro' })
    const long = createPricing().price({ input: 300_000, output: 0, total: 300_000, model: 'gemini-2.5-pro' })
    expect(long.total! / 3).toBeGreaterThan(short.total!)
  })

  it('lets your prices win over the table, by model id in any case or by a function', () => {
    const byId = createPricing({ prices: { 'GPT-4o': { input: 1, output: 2, cacheRead: 0.5 } } })
    // 8 × 1 + 4 × 0.5 = 10 per million in, 30 × 2 = 60 per million out.
    expect(byId.price(chat)).toEqual({ total: 0.00007, input: 0.00001, output: 0.00006, currency: 'USD', source: 'custom' })
    const byFunction = createPricing({ prices: (model) => (model.startsWith('ft:') ? { input: 1, output: 1 } : undefined) })
    expect(byFunction.price({ input: 1_000_000, output: 0, total: 1_000_000, model: 'ft:gpt-4o:acme' })).toMatchObject({ total: 1, source: 'custom' })
    expect(byFunction.price(chat).source).toBe(TABLE_SOURCE)
  })

  it('prices cache tokens at the input price when your price has no cache rates', () => {
    expect(createPricing({ prices: { m: { input: 1, output: 0 } } }).price({ ...claude, model: 'm' }).input).toBe(0.000035)
  })

  it('looks provider/model ids (gateways) up at that provider', () => {
    expect(createPricing().price({ ...chat, model: 'openai/gpt-4o' })).toMatchObject({ total: 0.000325, source: TABLE_SOURCE })
  })

  it('prices usage with input and total only (embeddings) with no output', () => {
    expect(createPricing({ prices: { e: { input: 1, output: 5 } } }).price({ input: 1000, total: 1000, model: 'e' })).toMatchObject({ total: 0.001, output: 0 })
  })

  it.each([
    ['an unknown model', { input: 1, output: 1, total: 2, model: 'acme-llm-9000' }],
    ['no model', { input: 1, output: 1, total: 2 }],
    ['a bare total (no input / output split)', { total: 1420, model: 'gpt-4o' }],
    ['cache reads above the input tokens', { input: 1, cacheRead: 5, output: 1, total: 2, model: 'gpt-4o' }],
  ])('marks %s unpriced, never 0', (_, usage) => {
    const cost = createPricing().price(usage)
    expect(cost).toEqual({ currency: 'USD', source: TABLE_SOURCE, unpriced: true })
  })

  it('says which source an unpriced cost was looked up in', () => {
    expect(createPricing({ table: false }).price(chat)).toEqual({ currency: 'USD', source: 'custom', unpriced: true })
  })

  it('turns a throwing prices function into an unpriced cost', () => {
    const pricing = createPricing({
      prices: () => {
        throw new Error('price service down')
      },
    })
    expect(pricing.price(chat).unpriced).toBe(true)
  })

  it.each([
    [{ prices: { m: { input: -1, output: 1 } } }, 'options.prices["m"].input'],
    [{ prices: { m: { input: 1 } } }, 'options.prices["m"].output'],
    [{ prices: { m: { input: 1, output: 1, cacheRead: Number.NaN } } }, 'options.prices["m"].cacheRead'],
    [{ prices: 'cheap' }, 'options.prices'],
    [{ table: 'yes' }, 'options.table'],
    [{ provider: 3 }, 'options.provider'],
  ])('rejects %j at creation, naming the field', (options, field) => {
    expect(() => createPricing(options as never)).toThrow(`[usertracking] [pricing] ${field} must`)
  })
})

describe('createPricing().enrich', () => {
  const activity: Activity = { id: '0190b7a6-0000-7000-8000-000000000000', activityType: 'chat', timestamp: '2025-07-06T10:05:00.000Z', tokenUsage: chat }

  it('adds the cost to an activity with token usage, leaving the original untouched', () => {
    const enriched = createPricing().enrich(activity)
    expect(enriched).toEqual({ ...activity, cost: { total: 0.000325, input: 0.000025, output: 0.0003, currency: 'USD', source: TABLE_SOURCE } })
    expect(activity.cost).toBeUndefined()
  })

  it('keeps a cost the activity already has, and leaves activities without tokens alone', () => {
    const own = { ...activity, cost: { total: 1, currency: 'USD' as const, source: 'invoice' } }
    expect(createPricing().enrich(own)).toBe(own)
    const click = { id: activity.id, activityType: 'click', timestamp: activity.timestamp }
    expect(createPricing().enrich(click)).toBe(click)
  })

  it('asks the provider option which provider served the activity', () => {
    const seen: string[] = []
    const pricing = createPricing({
      provider: (candidate) => {
        seen.push(candidate.activityType)
        return 'openai'
      },
    })
    expect(pricing.enrich(activity).cost).toMatchObject({ total: 0.000325 })
    expect(seen).toEqual(['chat'])
  })
})
