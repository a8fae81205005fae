import type { LiveState } from '@usertracking/client'
import type { ActivityFilter } from '@usertracking/core'
import { useEffect, useState } from 'react'
import { useActivityContext } from './context'

/** Options of {@link useLiveCount}. */
export interface UseLiveCountOptions {
  /** Count activities from this instant on; read once, when the component mounts. @default the start of today in the viewer's time zone */
  since?: Date
}

/** What {@link useLiveCount} returns. */
export interface LiveCountState {
  /** Activities matching the filter since `since`; undefined until the first count arrives. */
  count: number | undefined
  error: Error | undefined
  /** The live stream's state. */
  live: LiveState
}

function startOfToday(): Date {
  const today = new Date()
  today.setHours(0, 0, 0, 0)
  return today
}

/**
 * A count that goes up as activities happen — "57 activities today" — for social proof and
 * dashboards: the server counts once, then each new activity over the live stream adds one. It
 * counts again after every reconnection, so what happened while disconnected is not lost.
 */
export function useLiveCount(filter: ActivityFilter = {}, options: UseLiveCountOptions = {}): LiveCountState {
  const { client } = useActivityContext()
  const key = JSON.stringify(filter)
  const [since] = useState(() => options.since ?? startOfToday())
  const sinceIso = since.toISOString()
  const [count, setCount] = useState<number>()
  const [error, setError] = useState<Error>()
  const [live, setLive] = useState<LiveState>({ status: 'connecting', connected: false })

  useEffect(() => {
    const controller = new AbortController()
    const streamFilter = JSON.parse(key) as ActivityFilter
    // Arrivals count once the server's own count is in; earlier ones are in that count already
    // (the server stores an activity before it streams it).
    let counting = false
    const recount = () => {
      counting = false
      client.stats({ ...streamFilter, from: sinceIso }, { signal: controller.signal }).then(
        (stats) => {
          if (controller.signal.aborted) return
          counting = true
          setCount(stats.total)
          setError(undefined)
        },
        (reason: unknown) => {
          if (!controller.signal.aborted) setError(reason instanceof Error ? reason : new Error(String(reason)))
        },
      )
    }
    const subscription = client.live(
      streamFilter,
      (activity) => {
        if (counting && activity.timestamp >= sinceIso) setCount((value) => (value ?? 0) + 1)
      },
      {
        onState: (state) => {
          setLive(state)
          // Counted again on each (re)connection; once without live updates when the stream cannot open.
          if (state.connected || state.status === 'closed') recount()
        },
      },
    )
    setLive(subscription.state)
    if (subscription.state.connected || subscription.state.status === 'closed') recount()
    return () => {
      controller.abort()
      subscription.close()
    }
  }, [client, key, sinceIso])

  return { count, error, live }
}
