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

/** Reads a filter bound (`from`, `to`) into Unix milliseconds, or says why it cannot. */
export function toMs(value: string | Date, field: string): number {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value)
  if (!Number.isFinite(ms)) {
    throw invalidQuery(`The ${field} bound is not a valid date: ${String(value)}.`)
  }
  return ms
}
