import { isPlainObject, MAX_TIMER_MS, positiveOption } from '@usertracking/core'
import type { LiveBus } from './live-bus'
import type { LiveFeedOptions } from './live-feed'

/** `options.live` of the handler: the feed's options and the stream's heartbeat. */
export interface LiveOptions extends LiveFeedOptions {
  /** Comment lines sent this often keep proxies from closing a quiet stream, in ms. @default 15000 */
  heartbeatMs?: number
}

/** {@link LiveOptions} once checked, defaults filled in. */
export type ResolvedLiveOptions = Required<Omit<LiveOptions, 'bus'>> & { bus: LiveBus | undefined }

function isLiveBus(value: unknown): value is LiveBus {
  return typeof value === 'object' && value !== null && typeof (value as LiveBus).publish === 'function' && typeof (value as LiveBus).subscribe === 'function'
}

/**
 * Checks `options.live` at start-up, so a bad bound fails there, naming its field, rather than as
 * a timer that fires at once or a backlog that keeps nothing.
 *
 * @throws TypeError naming the field: each bound must be a positive number (delays at most
 *   2147483647 ms, what a timer keeps; `bufferSize` a whole number), `bus` a `LiveBus`.
 */
export function checkLiveOptions(option: LiveOptions | undefined): ResolvedLiveOptions {
  if (option !== undefined && !isPlainObject(option)) throw new TypeError('[usertracking] [server] options.live must be an object.')
  const live = option ?? {}
  if (live.bus !== undefined && !isLiveBus(live.bus)) {
    throw new TypeError('[usertracking] [server] options.live.bus must be a live bus with publish and subscribe (redisLiveBus from @usertracking/redis).')
  }
  const delay = (name: keyof LiveOptions, fallback: number) => positiveOption(live[name], `options.live.${name}`, fallback, { scope: 'server', max: MAX_TIMER_MS })
  return {
    bus: live.bus,
    bufferSize: positiveOption(live.bufferSize, 'options.live.bufferSize', 1000, { scope: 'server', integer: true }),
    pollIntervalMs: delay('pollIntervalMs', 2000),
    pollWindowMs: positiveOption(live.pollWindowMs, 'options.live.pollWindowMs', 300_000, { scope: 'server' }),
    idleTimeoutMs: delay('idleTimeoutMs', 300_000),
    heartbeatMs: delay('heartbeatMs', 15_000),
  }
}
