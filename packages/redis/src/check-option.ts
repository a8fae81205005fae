/**
 * A positive number option, or its default when left out; a `TypeError` naming the field otherwise.
 *
 * @param integer - also require a whole number (counts, lengths).
 */
export function positiveOption(value: unknown, field: string, fallback: number, integer = false): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new TypeError(`[usertracking] [redis] options.${field} must be a positive ${integer ? 'whole ' : ''}number; got ${String(value)}.`)
  }
  return value
}

/** Checks that a required option is there, naming it when it is not. */
export function requireOption<T>(value: T | undefined, field: string, what: string): T {
  if (value === undefined || value === null) throw new TypeError(`[usertracking] [redis] options.${field} is required: ${what}.`)
  return value
}
