/** Where the stream of a sink and its worker lives, and its dead-letter stream. */
export interface StreamKeys {
  /** The Redis Stream activities are appended to. */
  stream: string
  /** The Redis Stream entries go to when they can never be stored. */
  deadLetter: string
}

/** Options that name the Redis keys of a stream; a sink and the worker that drains it must agree on both. */
export interface StreamKeyOptions {
  /**
   * The stream's name, without the prefix. It becomes a Redis Cluster hash tag (`{activities}`), so
   * the stream, its consumer group and its dead-letter stream share one slot and can change in one
   * transaction. @default 'activities'
   */
  stream?: string
  /** Prefix of every key and channel this package uses, so they sit apart from the app's own. @default 'usertracking:' */
  keyPrefix?: string
}

/** The default stream name and key prefix. */
export const KEY_DEFAULTS = { stream: 'activities', keyPrefix: 'usertracking:' } as const

function checkName(value: unknown, field: string, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string') throw new TypeError(`[usertracking] [redis] options.${field} must be a string; got ${typeof value}.`)
  // Braces would end the hash tag early (Redis hashes the first {...} only) and split the keys over slots.
  if (/[{}\s]/.test(value)) throw new TypeError(`[usertracking] [redis] options.${field} must not contain braces or spaces; got ${JSON.stringify(value)}.`)
  return value
}

/** The key prefix, checked. */
export function keyPrefixOf(options: { keyPrefix?: string }): string {
  return checkName(options.keyPrefix, 'keyPrefix', KEY_DEFAULTS.keyPrefix)
}

/**
 * The keys a sink and a worker use: `usertracking:{activities}` and
 * `usertracking:{activities}:dead-letter` by default. Handy for looking at them with `redis-cli`.
 *
 * @param options - the stream name and the key prefix, as given to the sink and the worker.
 * @throws TypeError naming the option when a name holds braces or spaces.
 */
export function streamKeys(options: StreamKeyOptions = {}): StreamKeys {
  const name = checkName(options.stream, 'stream', KEY_DEFAULTS.stream)
  if (name === '') throw new TypeError('[usertracking] [redis] options.stream must not be empty.')
  const stream = `${keyPrefixOf(options)}{${name}}`
  return { stream, deadLetter: `${stream}:dead-letter` }
}
