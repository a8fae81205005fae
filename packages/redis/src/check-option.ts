import { positiveOption as checkPositive } from '@usertracking/core'

/**
 * A positive number option of this package, or its default when left out: core's check, naming
 * `options.<field>` under `[redis]`.
 *
 * @param integer - also require a whole number (counts, lengths).
 */
export function positiveOption(value: unknown, field: string, fallback: number, integer = false): number {
  return checkPositive(value, `options.${field}`, fallback, { scope: 'redis', integer })
}

/** Checks that a required option is there, naming it when it is not. */
export function requireOption<T>(value: T | undefined, field: string, what: string): T {
  if (value === undefined || value === null) throw new TypeError(`[usertracking] [redis] options.${field} is required: ${what}.`)
  return value
}
