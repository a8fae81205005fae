/**
 * LLM cost per call for usertracking: prices each activity's token usage at track time, from your
 * own prices or the maintained public price table of `@pydantic/genai-prices`, and calls a hook
 * when a user's spending passes a budget. For servers; it keeps the table out of browser bundles.
 *
 * @packageDocumentation
 * @module @usertracking/pricing
 */
export { createPricing, CUSTOM_SOURCE } from './pricing'
export type { Pricing } from './pricing'
export { createBudget } from './budget'
export type { Budget } from './budget'
export { GENAI_PRICES_VERSION, TABLE_SOURCE } from './price-table'
export { BUDGET_DEFAULTS } from './options'
export type { BudgetOptions, ModelPrice, PricingOptions } from './options'
