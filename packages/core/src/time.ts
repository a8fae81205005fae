// A burst of track() calls shares a millisecond, so it shares the string too: toISOString was the
// largest single cost of track(), and one cached entry removes it from bursts at no size cost.
let lastMs = Number.NaN
let lastIso = ''

/**
 * `new Date(ms).toISOString()`, remembered for the last millisecond asked for.
 *
 * @param ms - Unix milliseconds within the range of `Date`.
 */
export function toIsoString(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString()
    lastMs = ms
  }
  return lastIso
}
