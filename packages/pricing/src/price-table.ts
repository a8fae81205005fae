import { calcPrice, findProvider } from '@pydantic/genai-prices'

/**
 * The version of `@pydantic/genai-prices` this package depends on, exactly: the price table is
 * the one bundled with it, so `cost.source` names the table a cost was computed from. A test
 * checks it against the installed package.
 */
export const GENAI_PRICES_VERSION = '0.1.8'

/** The `cost.source` of a cost priced from the table. */
export const TABLE_SOURCE = `genai-prices@${GENAI_PRICES_VERSION}`

/** Token counts in the table's terms: `input` includes the cache reads and writes. */
export interface TableUsage {
  input: number
  output: number
  cacheRead: number
  cacheWrite: number
}

/** USD amounts the table gave. */
export interface TablePrice {
  input: number
  output: number
  total: number
}

/**
 * Prices `usage` of `model` at `at` from the bundled table, or `undefined` when the table does not
 * know the model (or the counts are inconsistent, which the table refuses). `provider/model` ids
 * (gateways, OpenRouter-style) are looked up at that provider when the whole id is unknown.
 */
export function tablePrice(model: string, usage: TableUsage, at: Date, providerId: string | undefined): TablePrice | undefined {
  const counts = {
    input_tokens: usage.input,
    output_tokens: usage.output,
    cache_read_tokens: usage.cacheRead,
    cache_write_tokens: usage.cacheWrite,
  }
  try {
    let result = calcPrice(counts, model, { providerId, timestamp: at })
    const slash = model.indexOf('/')
    if (!result && providerId === undefined && slash > 0) {
      const prefix = model.slice(0, slash)
      if (findProvider({ providerId: prefix })) result = calcPrice(counts, model.slice(slash + 1), { providerId: prefix, timestamp: at })
    }
    return result ? { input: result.input_price, output: result.output_price, total: result.total_price } : undefined
  } catch {
    // The table throws on counts it finds inconsistent (cache reads above the input tokens).
    return undefined
  }
}
