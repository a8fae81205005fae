import type { Activity } from '@usertracking/core'

/**
 * Your price of one model, in US dollars per million tokens (the unit providers publish). Cache
 * prices you leave out are the input price: a cached token is then never priced below what it
 * may cost.
 */
export interface ModelPrice {
  /** USD per million input tokens. */
  input: number
  /** USD per million output tokens. */
  output: number
  /** USD per million input tokens read from the prompt cache. @default `input` */
  cacheRead?: number
  /** USD per million input tokens written to the prompt cache. @default `input` */
  cacheWrite?: number
}

/** Options of {@link createPricing}. Every default is here, with the reason for it. */
export interface PricingOptions {
  /**
   * Your own prices, which win over the table: by model id as the provider reports it (`gpt-4o`,
   * `claude-sonnet-4-20250514`; compared case-insensitively, whole id only), or a function of the
   * model id that returns a price or `undefined`. For negotiated rates, fine-tunes and models the
   * table does not know yet. @default none
   */
  prices?: Record<string, ModelPrice> | ((model: string) => ModelPrice | undefined)
  /**
   * Price the models you gave no price for from the bundled public price table
   * (`@pydantic/genai-prices`: provider-aware, with cache and tiered prices and price changes
   * over time). `false` prices only what `prices` covers. @default true
   */
  table?: boolean
  /**
   * The provider id the table should look a model up at (`openai`, `anthropic`, `google`,
   * `openrouter`, …), or a function of the activity returning it, for model ids several providers
   * serve at different prices. A model id of the form `provider/model` names its provider itself.
   * @default undefined — the table finds the provider from the model id.
   */
  provider?: string | ((activity: Activity) => string | undefined)
}

/** Options of {@link createBudget}. Every default is here, with the reason for it. */
export interface BudgetOptions {
  /** The most a user may spend in one window, in US dollars, before `onBudgetExceeded` is called. */
  limit: number
  /**
   * The window length in milliseconds. Windows are aligned to the Unix epoch, so a day starts at
   * 00:00 UTC; spending starts again from 0 in each window. @default 86400000 (a day)
   */
  windowMs?: number
  /**
   * Called once per user and window, as soon as the user's spending in it passes `limit`, with
   * what they spent so far (USD). It may return a promise; a throw or a rejection goes to `onError`.
   */
  onBudgetExceeded: (userId: string, spent: number) => void | Promise<void>
  /**
   * Most users whose spending one window remembers; past it, the user first seen in the window is
   * forgotten (and starts from 0 if seen again). Bounds memory at roughly 100 bytes a user.
   * @default 100000
   */
  maxUsers?: number
  /** Receives what `onBudgetExceeded` throws or rejects with. @default errors are ignored */
  onError?: (error: unknown) => void
  /** The clock, in Unix milliseconds. @default Date.now */
  now?: () => number
}

/** The defaults of {@link BudgetOptions}. */
export const BUDGET_DEFAULTS = {
  windowMs: 86_400_000,
  maxUsers: 100_000,
} as const

function fail(field: string, requirement: string, value: unknown): never {
  let shown: string
  try {
    shown = typeof value === 'string' ? JSON.stringify(value) : String(value)
  } catch {
    shown = typeof value
  }
  throw new TypeError(`[usertracking] [pricing] options${field ? `.${field}` : ''} must ${requirement}; got ${shown}.`)
}

function isAmount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
}

/** Checks one {@link ModelPrice}, naming the field of a bad one. */
export function checkModelPrice(price: unknown, field: string): ModelPrice {
  if (typeof price !== 'object' || price === null) fail(field, 'be an object of USD per million tokens', price)
  const candidate = price as Record<string, unknown>
  for (const key of ['input', 'output'] as const) {
    if (!isAmount(candidate[key])) fail(`${field}.${key}`, 'be a finite, non-negative number of USD per million tokens', candidate[key])
  }
  for (const key of ['cacheRead', 'cacheWrite'] as const) {
    if (candidate[key] !== undefined && !isAmount(candidate[key])) {
      fail(`${field}.${key}`, 'be a finite, non-negative number of USD per million tokens', candidate[key])
    }
  }
  return candidate as unknown as ModelPrice
}

/** Checks {@link PricingOptions}, throwing a `TypeError` that names the field: a misconfiguration fails at start-up. */
export function checkPricingOptions(options: PricingOptions): void {
  if (typeof options !== 'object' || options === null) fail('', 'be an object', options)
  const { prices, table, provider } = options
  if (prices !== undefined && typeof prices !== 'function') {
    if (typeof prices !== 'object' || prices === null) fail('prices', 'be an object keyed by model id, or a function', prices)
    for (const [model, price] of Object.entries(prices)) checkModelPrice(price, `prices[${JSON.stringify(model)}]`)
  }
  if (table !== undefined && typeof table !== 'boolean') fail('table', 'be a boolean', table)
  if (provider !== undefined && typeof provider !== 'string' && typeof provider !== 'function') fail('provider', 'be a string or a function', provider)
}

/** Checks {@link BudgetOptions} and fills in the defaults. */
export function resolveBudgetOptions(options: BudgetOptions): BudgetOptions & { windowMs: number; maxUsers: number } {
  if (typeof options !== 'object' || options === null) fail('', 'be an object', options)
  if (!isAmount(options.limit)) fail('limit', 'be a finite, non-negative number of USD', options.limit)
  if (typeof options.onBudgetExceeded !== 'function') fail('onBudgetExceeded', 'be a function', options.onBudgetExceeded)
  const windowMs = options.windowMs ?? BUDGET_DEFAULTS.windowMs
  if (!Number.isInteger(windowMs) || windowMs < 1) fail('windowMs', 'be a whole number of milliseconds of at least 1', windowMs)
  const maxUsers = options.maxUsers ?? BUDGET_DEFAULTS.maxUsers
  if (!Number.isInteger(maxUsers) || maxUsers < 1) fail('maxUsers', 'be a whole number of at least 1', maxUsers)
  for (const key of ['onError', 'now'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') fail(key, 'be a function', options[key])
  }
  return { ...options, windowMs, maxUsers }
}
