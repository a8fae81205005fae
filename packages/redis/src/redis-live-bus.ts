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
   * connection of its own (`client.duplicate()`) to subscribe, from its creation to `close()`.
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
  /**
   * Resolves once the subscription is in place (or the bus closed first); never rejects. Messages
   * published before it are not received: pub/sub delivers to those listening at that moment.
   */
  readonly ready: Promise<void>
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
 * Pub/sub delivers to whoever listens at that moment, no more: an instance cut off from Redis
 * misses what others publish meanwhile (it is in the store all the same), so create the bus at
 * start-up: it subscribes at once and stays subscribed until `close()`. While Redis is
 * unreachable, publishes answer `local_only` at once (each instance's streams keep getting its own
 * ingest), a warning says so once, and the bus recovers by itself when Redis answers again
 * (ioredis reconnects and resubscribes). On a Redis Cluster the channel is classic
 * pub/sub: a message published on any node reaches subscribers on every node, and ioredis sends
 * each publish to any node, so one instance's activities may arrive out of order (each carries its
 * `timestamp`).
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

  const subscriber = duplicateClient(client, false)
  let lost = false
  const lose = () => {
    if (!lost && !closed) log.warn(`[redis] The live bus subscription lost Redis; other instances' activities pause until it is back.`)
    lost = true
  }
  // 'close' for a connection that dropped, 'error' for one that cannot be made; ioredis retries both.
  subscriber.on('close', lose)
  subscriber.on('error', lose)
  subscriber.on('ready', () => {
    if (lost) log.warn('[redis] The live bus subscription is back.')
    lost = false
  })
  subscriber.on('message', onMessage)
  // ioredis subscribes again by itself after every reconnect; this first call only has to be attempted.
  const ready = subscriber.subscribe(channel).then(
    () => undefined,
    (error: unknown) => {
      if (!closed) log.warn(`[redis] Subscribing to ${channel} failed; ioredis subscribes again once it reconnects.`, error)
    },
  )

  return {
    name: 'redis',
    ready,
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
      // A wrapper per call, so subscribing the same function twice gives two independent subscriptions.
      const listener = (activities: Activity[]) => onActivities(activities)
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    async close() {
      if (closed) return
      closed = true
      listeners.clear()
      subscriber.disconnect()
    },
  }
}
