import type { Activity } from '@usertracking/core'
import { resolveBudgetOptions, type BudgetOptions } from './options'

/** Per-user spending against a limit; see {@link createBudget}. */
export interface Budget {
  /**
   * Adds the activity's `cost.total` to its user's spending in the current window, calling
   * `onBudgetExceeded` when that passes the limit; returns the activity unchanged. Activities
   * without a `userId` or without a priced cost are not counted. Shaped as a tracker's
   * `beforeSend`, after pricing. Never throws.
   *
   * @param activity - a normalised, priced activity.
   */
  observe(activity: Activity): Activity
  /**
   * What the user spent in the current window, in USD, as this process counted it; for refusing
   * a call before it is made.
   *
   * @param userId - the user.
   */
  spent(userId: string): number
}

/**
 * A per-user LLM budget, counted in this process: `onBudgetExceeded(userId, spent)` is called once
 * per user and window when the user's cost in the window passes `limit`. Each process counts only
 * the calls it tracked itself, so several server instances each hold their own count (a limit per
 * instance, not per user across the fleet); a restart starts from 0. For a fleet-wide budget, sum
 * `cost` in your store (`stats()`), which every instance writes to.
 *
 * ```ts
 * const pricing = createPricing()
 * const budget = createBudget({ limit: 5, onBudgetExceeded: (userId, spent) => suspend(userId) })
 * const tracker = createNodeTracker({ sinks, beforeSend: (activity) => budget.observe(pricing.enrich(activity)) })
 * ```
 *
 * @param options - the limit, the window and the hook; see {@link BudgetOptions}.
 */
export function createBudget(options: BudgetOptions): Budget {
  const { limit, windowMs, maxUsers, onBudgetExceeded, onError } = resolveBudgetOptions(options)
  const now = options.now ?? Date.now
  let window = Number.NaN
  const spending = new Map<string, number>()

  function report(error: unknown): void {
    try {
      onError?.(error)
    } catch {
      // onError is the last resort; nothing is left to tell.
    }
  }

  function currentWindow(): void {
    const start = Math.floor(now() / windowMs) * windowMs
    if (start !== window) {
      window = start
      spending.clear()
    }
  }

  function notify(userId: string, spent: number): void {
    try {
      const result = onBudgetExceeded(userId, spent) as unknown
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') (result as PromiseLike<unknown>).then(undefined, report)
    } catch (error) {
      report(error)
    }
  }

  return {
    observe(activity) {
      try {
        const amount = activity?.cost?.total
        const userId = activity?.userId
        if (!userId || typeof amount !== 'number' || !(amount > 0)) return activity
        currentWindow()
        const before = spending.get(userId) ?? 0
        const after = Math.round((before + amount) * 1e12) / 1e12
        if (!spending.has(userId) && spending.size >= maxUsers) spending.delete(spending.keys().next().value as string)
        spending.set(userId, after)
        if (before <= limit && after > limit) notify(userId, after)
      } catch (error) {
        report(error)
      }
      return activity
    },
    spent(userId) {
      currentWindow()
      return spending.get(userId) ?? 0
    },
  }
}
