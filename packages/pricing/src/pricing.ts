import type { Activity, ActivityCost, TokenUsage } from '@usertracking/core'
import { checkModelPrice, checkPricingOptions, type ModelPrice, type PricingOptions } from './options'
import { TABLE_SOURCE, tablePrice, type TableUsage } from './price-table'

/** The `cost.source` of a cost priced from your own `prices`. */
export const CUSTOM_SOURCE = 'custom'

/** Turns token usage into cost; see {@link createPricing}. */
export interface Pricing {
  /**
   * What `usage` cost, in USD: from your price for `usage.model` if you gave one, else from the
   * table. Without a model, without the input / output split, or for a model no price is known
   * for, the cost is `{ unpriced: true }` (never `0`, which would read as free). Never throws.
   *
   * @param usage - the activity's token usage; `input` includes cache reads and writes.
   * @param at - when the tokens were spent, for prices that changed over time. @default now
   * @param provider - the provider to look the model up at (see {@link PricingOptions.provider}).
   */
  price(usage: TokenUsage, at?: Date | string | number, provider?: string): ActivityCost
  /**
   * Adds `cost` to an activity that has token usage and no cost yet, priced at its `timestamp`;
   * returns any other activity unchanged. Shaped as a tracker's `beforeSend`.
   *
   * @param activity - a normalised activity.
   */
  enrich(activity: Activity): Activity
}

// Costs are sums of tiny products (a token of a small model is 1e-8 USD); rounding to a
// picodollar drops floating-point noise such as 0.30000000000000004 and nothing a bill shows.
function round(amount: number): number {
  return Math.round(amount * 1e12) / 1e12
}

/** The counts in the table's terms, or `undefined` when input and output cannot be told apart. */
function tableUsage(usage: TokenUsage): TableUsage | undefined {
  const { total } = usage
  const output = usage.output ?? (usage.input !== undefined ? total - usage.input : undefined)
  const input = usage.input ?? (usage.output !== undefined ? total - usage.output : undefined)
  if (input === undefined || output === undefined || input < 0 || output < 0) return undefined
  return { input, output, cacheRead: usage.cacheRead ?? 0, cacheWrite: usage.cacheWrite ?? 0 }
}

function ownCost(price: ModelPrice, usage: TableUsage): ActivityCost | undefined {
  const uncached = usage.input - usage.cacheRead - usage.cacheWrite
  if (uncached < 0) return undefined
  const input = round((uncached * price.input + usage.cacheRead * (price.cacheRead ?? price.input) + usage.cacheWrite * (price.cacheWrite ?? price.input)) / 1e6)
  const output = round((usage.output * price.output) / 1e6)
  return { total: round(input + output), input, output, currency: 'USD', source: CUSTOM_SOURCE }
}

function toDate(at: Date | string | number | undefined): Date {
  if (at === undefined) return new Date()
  const date = at instanceof Date ? at : new Date(at)
  return Number.isNaN(date.getTime()) ? new Date() : date
}

/**
 * Pricing of LLM token usage, to put a `cost` on each activity at track time: your own prices
 * first, then the maintained public price table bundled with `@pydantic/genai-prices` (see
 * {@link GENAI_PRICES_VERSION}). Plug it into a Node tracker as its `beforeSend`:
 *
 * ```ts
 * const pricing = createPricing({ prices: { 'my-fine-tune': { input: 3, output: 12 } } })
 * const tracker = createNodeTracker({ sinks: [store.sink], beforeSend: pricing.enrich })
 * ```
 *
 * The cost says where its prices came from (`cost.source`: `custom` or `genai-prices@<version>`).
 *
 * @param options - your prices and the table's use; see {@link PricingOptions}.
 */
export function createPricing(options: PricingOptions = {}): Pricing {
  checkPricingOptions(options)
  const useTable = options.table ?? true
  const unknownSource = useTable ? TABLE_SOURCE : CUSTOM_SOURCE
  const { prices, provider } = options
  const own = new Map<string, ModelPrice>()
  if (prices && typeof prices === 'object') for (const [model, price] of Object.entries(prices)) own.set(model.toLowerCase(), price)

  function ownPrice(model: string): ModelPrice | undefined {
    if (typeof prices !== 'function') return own.get(model.toLowerCase())
    const price = prices(model)
    return price === undefined ? undefined : checkModelPrice(price, `prices(${JSON.stringify(model)})`)
  }

  function price(usage: TokenUsage, at?: Date | string | number, providerId?: string): ActivityCost {
    const unpriced: ActivityCost = { currency: 'USD', source: unknownSource, unpriced: true }
    try {
      const model = usage.model
      const counts = tableUsage(usage)
      if (!model || !counts) return unpriced
      const mine = ownPrice(model)
      if (mine) return ownCost(mine, counts) ?? { ...unpriced, source: CUSTOM_SOURCE }
      if (!useTable) return unpriced
      const found = tablePrice(model, counts, toDate(at), providerId)
      if (!found) return unpriced
      return { total: round(found.total), input: round(found.input), output: round(found.output), currency: 'USD', source: TABLE_SOURCE }
    } catch {
      // A throwing prices function: the call is unpriced, never failed.
      return unpriced
    }
  }

  function providerOf(activity: Activity): string | undefined {
    if (typeof provider !== 'function') return provider
    try {
      return provider(activity) || undefined
    } catch {
      return undefined
    }
  }

  return {
    price,
    enrich(activity) {
      if (!activity?.tokenUsage || activity.cost) return activity
      return { ...activity, cost: price(activity.tokenUsage, activity.timestamp, providerOf(activity)) }
    },
  }
}
