import type { Activity } from '@usertracking/core'

/** What became of one {@link LiveBus.publish}. */
export type LiveBusPublishResult =
  /** Handed to the bus for the other instances. */
  | { type: 'sent' }
  /** The bus is unreachable: only this instance's own streams have the activities. */
  | { type: 'local_only'; error: unknown }

/**
 * Carries live activities between server instances behind one load balancer, so each instance's
 * streams show what every instance ingested (`live: { bus }` in `createActivityHandler`;
 * `redisLiveBus` from `@usertracking/redis` is one). A bus is best effort: the handler always
 * serves its own streams first, and a bus that cannot reach the others answers `local_only` and
 * catches up by itself. Each instance drops activities it has seen already (by id), so a bus may
 * deliver twice, or echo an instance's own activities back.
 */
export interface LiveBus {
  /** Names the bus in logs. */
  readonly name: string
  /** Hands what this instance ingested to the other instances. Never rejects. */
  publish(activities: readonly Activity[]): Promise<LiveBusPublishResult>
  /**
   * Starts receiving what other instances publish; returns the function that stops. The handler
   * subscribes while it has open streams (and `live.idleTimeoutMs` after), never more than once.
   */
  subscribe(onActivities: (activities: Activity[]) => void): () => void
}
