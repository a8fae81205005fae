import { activityMatcher, type Activity, type ActivityFilter } from '@usertracking/core'
import type { PostgresAdapter } from './client-adapter'
import { parsePayload } from './notifications'

/** Ids waiting to be read for subscribers; past this, the oldest are dropped (with a warning). */
const MAX_PENDING_IDS = 10_000
/** Ids read per statement. */
const IDS_PER_READ = 1000

interface Subscriber {
  matches: (activity: Activity) => boolean
  onActivities: (activities: Activity[]) => void
}

/** Live updates of one store over LISTEN / NOTIFY. */
export interface Subscriptions {
  subscribe(filter: ActivityFilter, onActivities: (activities: Activity[]) => void): () => void
  /**
   * Resolves once a LISTEN being set up is in effect (or failed), so a write made just after
   * `subscribe` is heard; at once when none is being set up.
   */
  settled(): Promise<void>
  close(): Promise<void>
}

/**
 * One LISTEN per store, shared by its subscribers, open while there is at least one. Each
 * notification names ids; their rows are read once and handed to every subscriber whose filter
 * (core's `activityMatcher`) selects them, in the order they were announced.
 */
export function createSubscriptions(
  adapter: PostgresAdapter,
  channel: string,
  byIds: (ids: readonly string[]) => Promise<Activity[]>,
  warn: (message: string, cause?: unknown) => void,
): Subscriptions {
  const subscribers = new Set<Subscriber>()
  let stopListening: (() => Promise<void>) | undefined
  let starting: Promise<void> | undefined
  let settleStarting = () => {}
  let pending: string[] = []
  let draining = false
  let overflowWarned = false

  const deliver = (activities: Activity[]) => {
    for (const subscriber of [...subscribers]) {
      const matched = activities.filter(subscriber.matches)
      if (matched.length === 0) continue
      try {
        subscriber.onActivities(matched)
      } catch (error) {
        warn('A subscriber threw while handling new activities; the others still got them.', error)
      }
    }
  }

  const drain = async () => {
    if (draining) return
    draining = true
    try {
      while (pending.length > 0 && subscribers.size > 0) {
        const ids = pending.slice(0, IDS_PER_READ)
        pending = pending.slice(IDS_PER_READ)
        try {
          deliver(await byIds(ids))
        } catch (error) {
          // They are stored; only their live delivery is lost, and the next notification is read afresh.
          warn(`Reading ${ids.length} newly written activities for subscribers failed; they were not pushed live.`, error)
        }
      }
    } finally {
      draining = false
      overflowWarned = false
    }
  }

  const start = () => {
    let settle!: () => void
    const established = new Promise<void>((resolve) => (settle = resolve))
    starting = established
    settleStarting = settle
    void established.then(() => {
      if (starting === established) starting = undefined
    })
    stopListening = adapter.listen(channel, {
      notify(payload) {
        pending.push(...parsePayload(payload))
        if (pending.length > MAX_PENDING_IDS) {
          pending = pending.slice(pending.length - MAX_PENDING_IDS)
          if (!overflowWarned) warn(`Subscribers fell more than ${MAX_PENDING_IDS} activities behind; the oldest were not pushed live.`)
          overflowWarned = true
        }
        void drain()
      },
      listening(again) {
        settle()
        if (again) warn(`LISTEN ${channel} is back after a lost connection; activities written in between were not pushed live.`)
      },
      lost(error) {
        settle()
        warn(`The LISTEN ${channel} connection was lost; reconnecting.`, error)
      },
    })
  }

  const stop = async () => {
    const stopping = stopListening
    stopListening = undefined
    pending = []
    settleStarting()
    await stopping?.()
  }

  return {
    subscribe(filter, onActivities) {
      const subscriber: Subscriber = { matches: activityMatcher(filter ?? {}), onActivities }
      subscribers.add(subscriber)
      if (stopListening === undefined) start()
      return () => {
        if (!subscribers.delete(subscriber) || subscribers.size > 0) return
        void stop()
      }
    },
    settled: () => starting ?? Promise.resolve(),
    async close() {
      subscribers.clear()
      await stop()
    },
  }
}
