import { settleWithin, UserTrackingError, unref } from '@usertracking/core'
import type { Cluster, Redis } from 'ioredis'

/**
 * An ioredis client: a `Redis` (one server, or Sentinel) or a `Cluster`. The app creates it and
 * owns it; this package never closes it, and opens its own connections (for blocking reads and
 * subscriptions) with `client.duplicate()`, which it does close.
 *
 * Replies are read in ioredis's default shapes (`replyMapping: 'legacy'`, on RESP2 or RESP3); and
 * keys are prefixed by this package (`keyPrefix` in its options), so leave the client's own
 * `keyPrefix` unset.
 */
export type RedisClient = Redis | Cluster

/** A failed or timed-out Redis command, naming it; the reply error, if any, is its `cause`. */
export class RedisCommandError extends UserTrackingError {
  static override readonly kind: string = 'RedisCommandError'
  /** Whether `value` is a `RedisCommandError`, from any copy of this package. */
  declare static isInstance: (value: unknown) => value is RedisCommandError
}

/** Connection states in which a command would only sit in ioredis's offline queue until Redis is back. */
const DISCONNECTED = new Set(['reconnecting', 'close', 'end'])

/** Whether the client is cut off from Redis (as opposed to connected, or still making its first connection). */
export function isDisconnected(client: RedisClient): boolean {
  return DISCONNECTED.has(client.status)
}

/**
 * Sends one command with a time limit. ioredis itself waits as long as its reconnect policy allows,
 * and a command queued while Redis is away may still run after the caller gave up: every command
 * this package sends is therefore safe to repeat (appends of the same activity id are absorbed by
 * the store's id dedupe; acknowledgements are idempotent).
 *
 * A client cut off from Redis fails at once instead of growing its offline queue.
 */
export function command(client: RedisClient, timeoutMs: number, name: string, args: (string | number | Buffer)[]): Promise<unknown> {
  if (isDisconnected(client)) {
    return Promise.reject(new RedisCommandError(`[usertracking] [redis] ${name} not sent: the connection to Redis is ${client.status}.`))
  }
  return withTimeout(client.call(name, ...args), timeoutMs, name)
}

/** `promise`, or a {@link RedisCommandError} once `timeoutMs` passed; a late rejection is swallowed, never left unhandled. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, name: string): Promise<T> {
  const named = promise.catch((error: unknown) => {
    // A reply or connection error from ioredis gets the command's name; an error of ours passes as is.
    if (UserTrackingError.isInstance(error) || !(error instanceof Error)) throw error
    throw new RedisCommandError(`[usertracking] [redis] ${name} failed: ${error.message}`, { cause: error })
  })
  return settleWithin(named, timeoutMs, () => new RedisCommandError(`[usertracking] [redis] ${name} did not answer within ${timeoutMs} ms.`))
}

/**
 * A connection of this package's own, beside the app's client: same servers and credentials, its
 * own socket. `blocking` connections (a worker's `XREADGROUP … BLOCK`) fail fast while Redis is
 * away instead of queueing, and are not re-sent after a reconnect: a read resent late would take
 * entries off the stream that no one waits for any more.
 */
export function duplicateClient(client: RedisClient, blocking: boolean): RedisClient {
  const own = blocking ? { enableOfflineQueue: false, autoResendUnfulfilledCommands: false, commandTimeout: undefined } : {}
  if (client.isCluster) {
    const cluster = client as Cluster
    const { redisOptions } = cluster.options
    return cluster.duplicate(undefined, {
      enableOfflineQueue: blocking ? false : cluster.options.enableOfflineQueue,
      redisOptions: blocking ? { ...redisOptions, autoResendUnfulfilledCommands: false, commandTimeout: undefined } : redisOptions,
    })
  }
  return (client as Redis).duplicate(own)
}

/** The Redis error code at the start of a reply error's message (`NOSCRIPT`, `BUSYGROUP` …). */
export function replyCode(error: unknown): string | undefined {
  let current: unknown = error
  // Wrapped by withTimeout: the reply error is the cause.
  while (current instanceof Error) {
    const match = /^([A-Z]+) /.exec(current.message)
    if (match) return match[1]
    current = current.cause
  }
  return undefined
}

/**
 * Runs a Lua script by its SHA1, loading it first when the server does not hold it (after a
 * restart or a failover, or on a Cluster node that has not seen it). One key: on a Cluster the
 * script runs on the node that owns it.
 */
export async function runScript(client: RedisClient, timeoutMs: number, script: { lua: string; sha: string }, key: string, args: (string | number)[]): Promise<unknown> {
  try {
    return await command(client, timeoutMs, 'EVALSHA', [script.sha, 1, key, ...args])
  } catch (error) {
    if (replyCode(error) !== 'NOSCRIPT') throw error
    return command(client, timeoutMs, 'EVAL', [script.lua, 1, key, ...args])
  }
}

/** Resolves once `client` is connected and ready for commands; rejects after `timeoutMs`, or when `signal` aborts. */
export function whenReady(client: RedisClient, timeoutMs: number, signal: AbortSignal): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: Error) => {
      clearTimeout(timer)
      client.off('ready', ready)
      signal.removeEventListener('abort', aborted)
      if (error) reject(error)
      else resolve()
    }
    const ready = () => settle()
    const aborted = () => settle(new RedisCommandError('[usertracking] [redis] Stopped while waiting for a connection to Redis.'))
    const timer = unref(setTimeout(() => settle(new RedisCommandError(`[usertracking] [redis] No connection to Redis within ${timeoutMs} ms (it is ${client.status}).`)), timeoutMs))
    client.on('ready', ready)
    if (signal.aborted) aborted()
    else signal.addEventListener('abort', aborted)
  })
}
