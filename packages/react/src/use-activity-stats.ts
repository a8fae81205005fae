import type { ActivityStatsQuery, ActivityStatsResult } from '@usertracking/client'
import { useEffect, useState } from 'react'
import { useActivityContext } from './context'

/** Options of {@link useActivityStats}. */
export interface UseActivityStatsOptions {
  /**
   * Fetch again when new activities arrive over the live stream, at most once per
   * `liveThrottleMs` (a busy site would otherwise refetch for every click). @default false
   */
  live?: boolean
  /** Least time between two live refetches, in ms. @default 2000 */
  liveThrottleMs?: number
  /** Also fetch again this often, in ms (story 4's admin page refreshed every 30 s). @default off */
  refreshIntervalMs?: number
}

/** What {@link useActivityStats} returns. */
export interface ActivityStatsState {
  /** The latest aggregates; kept while a refetch is on its way, so cards do not flash. */
  stats: ActivityStatsResult | undefined
  loading: boolean
  error: Error | undefined
  /** Fetches again now. */
  refresh(): void
}

/**
 * Aggregates over a filter — totals, unique users and visitors, sessions, tokens, cost, counts by
 * type, and buckets over time with `intervalMs` — optionally kept current over the live stream.
 */
export function useActivityStats(query: ActivityStatsQuery = {}, options: UseActivityStatsOptions = {}): ActivityStatsState {
  const { client } = useActivityContext()
  const key = JSON.stringify(query)
  const [generation, setGeneration] = useState(0)
  const [state, setState] = useState<Omit<ActivityStatsState, 'refresh'>>({ stats: undefined, loading: true, error: undefined })
  const { live = false, liveThrottleMs = 2000, refreshIntervalMs } = options

  useEffect(() => {
    const controller = new AbortController()
    setState((previous) => ({ ...previous, loading: true }))
    client.stats(JSON.parse(key) as ActivityStatsQuery, { signal: controller.signal }).then(
      (stats) => {
        if (!controller.signal.aborted) setState({ stats, loading: false, error: undefined })
      },
      (reason: unknown) => {
        if (!controller.signal.aborted) setState((previous) => ({ ...previous, loading: false, error: reason instanceof Error ? reason : new Error(String(reason)) }))
      },
    )
    return () => controller.abort()
  }, [client, key, generation])

  useEffect(() => {
    const timers: ReturnType<typeof setTimeout>[] = []
    const again = () => setGeneration((value) => value + 1)
    if (refreshIntervalMs) timers.push(setInterval(again, refreshIntervalMs))
    if (!live) return () => timers.forEach(clearInterval)
    const { intervalMs: _interval, per: _per, on: _on, recentMs: _recent, ...filter } = JSON.parse(key) as ActivityStatsQuery
    let pending: ReturnType<typeof setTimeout> | undefined
    const subscription = client.live(
      filter,
      () => {
        pending ??= setTimeout(() => {
          pending = undefined
          again()
        }, liveThrottleMs)
      },
      // What happened while disconnected is in the store, not in the stream: count again.
      { onReset: again },
    )
    return () => {
      subscription.close()
      clearTimeout(pending)
      timers.forEach(clearInterval)
    }
  }, [client, key, live, liveThrottleMs, refreshIntervalMs])

  return { ...state, refresh: () => setGeneration((value) => value + 1) }
}
