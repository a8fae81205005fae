let dayStart = Number.NaN
let dayPrefix = ''
// A burst of track() calls shares a millisecond; they share the string too.
let lastMs = Number.NaN
let lastIso = ''

function pad(value: number, width: number): string {
  return value.toString().padStart(width, '0')
}

/**
 * `new Date(ms).toISOString()`, about ten times cheaper for the common case: every activity needs
 * at least one timestamp, and `toISOString` was the largest single cost of `track()`. The
 * `YYYY-MM-DDT` prefix is cached per UTC day and the time of day is formatted by arithmetic.
 *
 * @param ms - Unix milliseconds within the range of `Date`.
 */
export function toIsoString(ms: number): string {
  if (ms === lastMs) return lastIso
  if (!Number.isInteger(ms)) return new Date(ms).toISOString()
  const sinceDayStart = ms - dayStart
  if (!(sinceDayStart >= 0 && sinceDayStart < 86_400_000)) {
    if (ms < 0 || ms >= 253_402_300_800_000) return new Date(ms).toISOString()
    const iso = new Date(ms).toISOString()
    dayPrefix = iso.slice(0, 11)
    dayStart = ms - (ms % 86_400_000)
    return iso
  }
  const hours = Math.floor(sinceDayStart / 3_600_000)
  const minutes = Math.floor(sinceDayStart / 60_000) % 60
  const seconds = Math.floor(sinceDayStart / 1000) % 60
  lastMs = ms
  lastIso = `${dayPrefix}${pad(hours, 2)}:${pad(minutes, 2)}:${pad(seconds, 2)}.${pad(sinceDayStart % 1000, 3)}Z`
  return lastIso
}
