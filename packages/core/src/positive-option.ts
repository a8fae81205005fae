/** The longest delay `setTimeout` and `setInterval` keep: a longer one fires at once (Node warns). */
export const MAX_TIMER_MS = 2_147_483_647

/** What {@link positiveOption} checks beside positivity, and the package its message names. */
export interface PositiveOptionCheck {
  /** The package (and adapter) the message names: `server`, `redis`. */
  scope: string
  /** Also require a whole number (counts, lengths). @default false */
  integer?: boolean
  /** The largest value accepted, such as {@link MAX_TIMER_MS} for a timer's delay. @default Infinity */
  max?: number
}

/**
 * A positive number option, or `fallback` when it is left out. For packages and adapters that
 * check their options at start-up, so each names the field it refuses the same way.
 *
 * @param value - the option as given.
 * @param name - the option as the caller wrote it: `options.live.heartbeatMs`.
 * @param fallback - its default.
 * @param check - the package the message names; whether a whole number is required; the largest value.
 * @throws TypeError naming the option when `value` is not a positive (whole) number up to `max`.
 */
export function positiveOption(value: unknown, name: string, fallback: number, check: PositiveOptionCheck): number {
  if (value === undefined) return fallback
  const prefix = `[usertracking] [${check.scope}] ${name}`
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (check.integer && !Number.isInteger(value))) {
    throw new TypeError(`${prefix} must be a positive ${check.integer ? 'whole ' : ''}number; got ${String(value)}.`)
  }
  if (check.max !== undefined && value > check.max) throw new TypeError(`${prefix} must be at most ${check.max}; got ${value}.`)
  return value
}
