import { randomBytes } from 'node:crypto'
import { createLogger, isPlainObject, type Activity, type Logger } from '@usertracking/core'
import type { LiveBus, LiveBusPublishResult } from '@usertracking/server'
import { positiveOption, requireOption } from './check-option'
import { command, duplicateClient, type RedisClient } from './client'
import { keyPrefixOf } from './keys'

/** Options of {@link redisLiveBus}. */
export interface RedisLiveBusOptions {
  /**
   * The app's ioredis client (`Redis` or `Cluster`). Publishes go out on it; the bus opens one
   * connection of its own (`client.duplicate()`) to subscribe, while the handler has streams open.
   */
  client: RedisClient
  /** The pub/sub channel, after the prefix; every instance of one app must use the same. @default 'live' */
  channel?: string
  /** Prefix of the channel, as of every key this package uses. @default 'usertracking:' */
  keyPrefix?: string
  /** Time limit of one publish, in ms; a slower one counts as `local_only`. @default 2000 */
  commandTimeoutMs?: number
  /** Where the bus says it lost Redis (live delivery local-only) and that it is back. @default console */
  logger?: Logger
}

/** A {@link LiveBus} over Redis pub/sub; `close()` ends its own connection. */
export interface RedisLiveBus extends LiveBus {
  /** Ends the subscription connection; the app's client stays open. Safe to call twice. */
  close(): Promise<void>
}

/** What travels on the channel: the sender, so it can skip its own messages, and the activities. */
interface BusMessage {
  from: string
  activities: readonly Activity[]
}

function readMessage(text: string): { from: string; activities: Activity[] } | undefined {
  try {
    const value: unknown = JSON.parse(text)
    if (!isPlainObject(value) || typeof value.from !== 'string' || !Array.isArray(value.activities)) return undefined
    // Anything else on the channel (a stray PUBLISH) is ignored rather than streamed to browsers.
    const activities = value.activities.filter(
      (item): item is Activity => isPlainObject(item) && typeof item.id === 'string' && typeof item.activityType === 'string',
    )
    return { from: value.from, activities }
  } catch {
    return undefined
  }
}

/**
 * Live fan-out across server instances over Redis pub/sub:
 * `createActivityHandler({ live: { bus: redisLiveBus({ client }) } })` on each instance, and every
 * instance's streams carry what any of them ingested (each once, still filtered per user, still
 * resumable with `Last-Event-ID` on the instance that numbered them).
 *
 * Pub/sub delivers to whoever listens at that moment, no more: an instance that is not subscribed
 * (no open stream) or cut off from Redis misses those activities, which are in the store all the
 * same. While Redis is unreachable, publishes answer `local_only` at once (each instance's streams
 * keep getting its own ingest), a warning says so once, and the bus recovers by itself when Redis
 * answers again (ioredis reconnects and resubscribes). On a Redis Cluster, messages on the channel
 * reach every node (classic pub/sub), so any node can serve the subscription.
 *
 * @param options - the client and the channel; see {@link RedisLiveBusOptions}.
 * @throws TypeError naming the option when an option is invalid.
 */
export function redisLiveBus(options: RedisLiveBusOptions): RedisLiveBus {
  const client = requireOption(options.client, 'client', 'an ioredis Redis or Cluster client')
  const channel = `${keyPrefixOf(options)}${options.channel ?? 'live'}`
  const commandTimeoutMs = positiveOption(options.commandTimeoutMs, 'commandTimeoutMs', 2000)
  const log = options.logger ? createLogger(options.logger) : createLogger(true)
  const self = randomBytes(8).toString('hex')
  const listeners = new Set<(activities: Activity[]) => void>()
  let subscriber: RedisClient | undefined
  let publishing: 'up' | 'down' = 'up'
  let closed = false

  function publishFailed(error: unknown): LiveBusPublishResult {
    if (publishing === 'up') {
      log.warn(`[redis] Live delivery is local to this instance until Redis answers again: ${error instanceof Error ? error.message : String(error)}`)
    }
    publishing = 'down'
    return { type: 'local_only', error }
  }

  function onMessage(from: string, text: string): void {
    if (from !== channel) return
    const message = readMessage(text)
    if (!message || message.from === self || message.activities.length === 0) return
    for (const listener of listeners) {
      try {
        listener(message.activities)
      } catch (error) {
        log.error('[redis] A live bus listener failed.', error)
      }
    }
  }

  function openSubscriber(): RedisClient {
    const connection = duplicateClient(client, false)
    let lost = false
    connection.on('error', (error: unknown) => {
      if (!lost) log.warn(`[redis] The live bus subscription lost Redis; other instances' activities pause until it is back.`, error)
      lost = true
    })
    connection.on('ready', () => {
      if (lost) log.warn('[redis] The live bus subscription is back.')
      lost = false
    })
    connection.on('message', onMessage)
    // ioredis subscribes again by itself after every reconnect; this first call only has to be attempted.
    connection.subscribe(channel).catch((error: unknown) => log.warn(`[redis] Subscribing to ${channel} failed; ioredis retries on reconnect.`, error))
    return connection
  }

  function closeSubscriber(): void {
    const connection = subscriber
    subscriber = undefined
    connection?.disconnect()
  }

  return {
    name: 'redis',
    async publish(activities) {
      if (closed) return { type: 'local_only', error: new Error('[usertracking] [redis] The live bus is closed.') }
      if (activities.length === 0) return { type: 'sent' }
      try {
        await command(client, commandTimeoutMs, 'PUBLISH', [channel, JSON.stringify({ from: self, activities } satisfies BusMessage)])
      } catch (error) {
        return publishFailed(error)
      }
      if (publishing === 'down') log.warn('[redis] Live delivery reaches the other instances again.')
      publishing = 'up'
      return { type: 'sent' }
    },
    subscribe(onActivities) {
      if (closed) return () => {}
      listeners.add(onActivities)
      subscriber ??= openSubscriber()
      return () => {
        listeners.delete(onActivities)
        if (listeners.size === 0) closeSubscriber()
      }
    },
    async close() {
      closed = true
      listeners.clear()
      closeSubscriber()
    },
  }
}
