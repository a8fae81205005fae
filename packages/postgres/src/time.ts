import { invalidQuery } from './errors'

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0')
}

/**
 * Formats Unix milliseconds (plus optional extra microseconds) as timestamptz input PostgreSQL parses
 * exactly for every year it can hold. JavaScript's own ISO form cannot serve: PostgreSQL reads
 * neither `+275760-…` nor `-000100-…`, and wants `BC` after the time instead.
 */
export function toTimestampText(ms: number, extraMicros = 0): string {
  const date = new Date(ms)
  const year = date.getUTCFullYear()
  const era = year <= 0 ? ' BC' : ''
  const fraction = pad(((ms % 1000) + 1000) % 1000, 3) + pad(extraMicros, 3)
  return (
    `${pad(year <= 0 ? 1 - year : year, 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)} ` +
    `${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}.${fraction}+00${era}`
  )
}

/** SQL turning a timestamptz column into its exact Unix microseconds, as text (drivers disagree on int8). */
export function epochMicrosSql(column: string): string {
  return `(extract(epoch from ${column}) * 1000000)::int8::text`
}

/** Splits the text of {@link epochMicrosSql} into Unix milliseconds and the microseconds beyond them. */
export function splitMicros(text: string): { ms: number; micros: number } {
  const exact = Number(text)
  // Every instant before the year 2255 fits a double exactly; BigInt only for the rest.
  if (Number.isSafeInteger(exact)) {
    const ms = Math.floor(exact / 1000)
    return { ms, micros: exact - ms * 1000 }
  }
  const micros = BigInt(text)
  let ms = micros / 1000n
  let rest = micros % 1000n
  if (rest < 0n) {
    ms -= 1n
    rest += 1000n
  }
  return { ms: Number(ms), micros: Number(rest) }
}

/** The ISO 8601 form an {@link Activity} uses for the text of {@link epochMicrosSql}. */
export function microsToIso(text: string): string {
  return new Date(splitMicros(text).ms).toISOString()
}

/**
 * The earliest instant PostgreSQL's timestamptz holds (4714-11-24 BC, Julian day 0), in Unix
 * milliseconds. Its latest (year 294276) lies beyond JavaScript's (year 275760), so JavaScript's
 * own limit is the upper bound.
 */
export const MIN_TIMESTAMP_MS = Date.UTC(-4713, 10, 24)
/** The latest instant a JavaScript `Date` holds, in Unix milliseconds. */
export const MAX_TIMESTAMP_MS = 8_640_000_000_000_000

/** Whether Unix milliseconds are an instant both PostgreSQL and JavaScript can hold. */
export function inTimestampRange(ms: number): boolean {
  return ms >= MIN_TIMESTAMP_MS && ms <= MAX_TIMESTAMP_MS
}

/**
 * Reads a filter bound (`from`, `to`, `receivedFrom`, `receivedTo`) into Unix milliseconds, or
 * refuses it with a `RangeError` naming the field (the server answers 400): not a date, or outside
 * what PostgreSQL can compare with.
 */
export function toMs(value: string | Date, field: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN
  if (!Number.isFinite(ms)) {
    throw invalidQuery(`${field} is not a valid date: ${String(value)}.`)
  }
  if (!inTimestampRange(ms)) {
    throw invalidQuery(`${field} must be a date from 4714-11-24 BC to +275760-09-13; ${String(value)} is outside what PostgreSQL can hold.`)
  }
  return ms
}
