/**
 * The delay before retry number `attempt` (1 for the first retry): "full jitter" exponential
 * backoff, a uniformly random delay between 0 and `min(maxMs, baseMs · 2^(attempt-1))`. Full jitter
 * spreads a crowd of clients that failed together better than any fixed or half-jittered schedule
 * (AWS Architecture Blog, "Exponential Backoff And Jitter").
 *
 * @param attempt - 1-based retry number.
 * @param baseMs - the cap of the first retry's delay.
 * @param maxMs - the cap of any retry's delay.
 * @param random - a source of numbers in [0, 1); injectable for tests.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.floor(random() * ceiling)
}

/**
 * Parses an HTTP `Retry-After` header (delay-seconds or an HTTP date, RFC 9110 §10.2.3) into
 * milliseconds from `nowMs`, or `undefined` when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (!value) return undefined
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000)
  const at = Date.parse(trimmed)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - nowMs)
}
