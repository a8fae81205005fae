import { positiveOption } from '@usertracking/core'

/** A per-client token bucket for anonymous ingest; see `ActivityHandlerOptions.rateLimit`. */
export interface RateLimitOptions {
  /** Requests one client IP may send per second, sustained. @default 10 */
  requestsPerSecond?: number
  /** Requests one client IP may send at once after a quiet spell (the bucket's size). @default 100 */
  burst?: number
  /**
   * Client IPs remembered at once; past it the least recently seen is forgotten (and starts again
   * with a full bucket). Bounds the limiter's memory to about 100 bytes per entry.
   * @default 10000
   */
  maxClients?: number
}

/** The limiter of one handler. */
export interface RateLimiter {
  /** Takes one token from `key`'s bucket: 0 when allowed, else the milliseconds until one is free. */
  take(key: string): number
}

const SERVER = { scope: 'server' }

interface Bucket {
  tokens: number
  updatedAt: number
}

/**
 * A bounded, in-memory token bucket per key (the client IP). Buckets refill continuously at
 * `requestsPerSecond` up to `burst`; the map of buckets keeps insertion order, so the first entry
 * is always the least recently used one and eviction is O(1).
 *
 * @param options - rates and bounds; see {@link RateLimitOptions}.
 * @param now - the clock, in Unix milliseconds.
 * @throws TypeError naming the option when a rate or bound is not a positive number.
 */
export function createRateLimiter(options: RateLimitOptions, now: () => number): RateLimiter {
  const rate = positiveOption(options.requestsPerSecond, 'options.rateLimit.requestsPerSecond', 10, SERVER) / 1000
  const burst = positiveOption(options.burst, 'options.rateLimit.burst', 100, SERVER)
  const maxClients = Math.floor(positiveOption(options.maxClients, 'options.rateLimit.maxClients', 10_000, SERVER))
  const buckets = new Map<string, Bucket>()
  return {
    take(key) {
      const at = now()
      const bucket = buckets.get(key) ?? { tokens: burst, updatedAt: at }
      // Moved to the end: the map's first entry stays the least recently seen client.
      buckets.delete(key)
      buckets.set(key, bucket)
      if (buckets.size > maxClients) buckets.delete(buckets.keys().next().value!)
      bucket.tokens = Math.min(burst, bucket.tokens + Math.max(0, at - bucket.updatedAt) * rate)
      bucket.updatedAt = at
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1
        return 0
      }
      return Math.ceil((1 - bucket.tokens) / rate)
    },
  }
}
