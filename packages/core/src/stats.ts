import type { Activity } from './activity'
import { activityMatcher } from './filter'
import {
  MAX_LIST_OFFSET,
  type ActivityStats,
  type ListQuery,
  type StatsBucket,
  type StatsGroupBy,
  type StatsGroupKey,
  type StatsQuery,
} from './store'

const GROUP_KEYS: readonly StatsGroupKey[] = ['user', 'visitor', 'activityType', 'page', 'host']

/**
 * Checks a {@link StatsQuery.groupBy} the way every store must, throwing a `RangeError` that names
 * the field (the server answers it with 400).
 *
 * @param groupBy - the grouping to check; `undefined` passes.
 * @param store - names the store in the message.
 */
export function checkGroupBy(groupBy: StatsGroupBy | undefined, store: string): void {
  if (groupBy === undefined) return
  const { intervalMs, per, on } = groupBy
  if (intervalMs === undefined && per === undefined) {
    throw new RangeError(`[usertracking] [${store}] groupBy needs intervalMs, per, or both.`)
  }
  if (intervalMs !== undefined && !(typeof intervalMs === 'number' && Number.isFinite(intervalMs) && intervalMs > 0)) {
    throw new RangeError(`[usertracking] [${store}] groupBy.intervalMs must be a positive number of milliseconds.`)
  }
  if (per !== undefined && !GROUP_KEYS.includes(per)) {
    throw new RangeError(`[usertracking] [${store}] groupBy.per must be one of ${GROUP_KEYS.join(', ')}.`)
  }
  if (on !== undefined && on !== 'timestamp' && on !== 'receivedAt') {
    throw new RangeError(`[usertracking] [${store}] groupBy.on must be timestamp or receivedAt.`)
  }
}

/**
 * Checks {@link ListQuery.offset} the way every store must: a whole number from 0 to
 * {@link MAX_LIST_OFFSET}, never together with a cursor. Throws a `RangeError` naming the field.
 *
 * @param query - the list query.
 * @param store - names the store in the message.
 * @returns the offset, 0 when absent.
 */
export function checkOffset(query: Pick<ListQuery, 'offset' | 'cursor'>, store: string): number {
  const { offset } = query
  if (offset === undefined) return 0
  if (!(Number.isInteger(offset) && offset >= 0 && offset <= MAX_LIST_OFFSET)) {
    throw new RangeError(`[usertracking] [${store}] offset must be a whole number from 0 to ${MAX_LIST_OFFSET}; walk further with cursor.`)
  }
  if (offset > 0 && query.cursor !== undefined) {
    throw new RangeError(`[usertracking] [${store}] offset and cursor cannot be combined; use one or the other.`)
  }
  return offset
}

/**
 * The key an activity is bucketed under for {@link StatsGroupBy.per}, or `undefined` when it lacks
 * one (it is then left out of the buckets). `visitor` is the user id, else the anonymous id.
 *
 * @param activity - the activity.
 * @param per - the grouping key.
 */
export function statsGroupKey(activity: Activity, per: StatsGroupKey): string | undefined {
  switch (per) {
    case 'user':
      return activity.userId
    case 'visitor':
      return activity.userId ?? activity.anonymousId
    case 'activityType':
      return activity.activityType
    case 'page':
      return typeof activity.context?.page === 'string' ? activity.context.page : undefined
    case 'host':
      return typeof activity.context?.host === 'string' ? activity.context.host : undefined
  }
}

/** Linear interpolation between the closest ranks, as PostgreSQL's `percentile_cont`. */
function percentile(sorted: number[], fraction: number): number {
  const rank = fraction * (sorted.length - 1)
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low)
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Computes {@link ActivityStats} over activities in memory, with exactly the semantics every store
 * must give (the conformance suite holds database stores to it): for the memory store, and for
 * stores whose backend cannot aggregate a figure itself.
 *
 * @param activities - every candidate; those the query's filter does not select are skipped.
 * @param query - the filter and grouping; throws a `RangeError` for an invalid `groupBy`.
 * @param store - names the store in error messages. @default 'memory'
 */
export function computeStats(activities: Iterable<Activity>, query: StatsQuery = {}, store = 'memory'): ActivityStats {
  checkGroupBy(query.groupBy, store)
  const matches = activityMatcher(query)
  const users = new Set<string>()
  const visitors = new Set<string>()
  const sessions = new Set<string>()
  const tokens = { input: 0, output: 0, total: 0 }
  const cost = { total: 0, currency: 'USD' as const, unpriced: 0 }
  const durations: number[] = []
  const types = new Map<string, { count: number; tokens: number; cost: number }>()
  const buckets = new Map<string, StatsBucket & { startMs?: number }>()
  const interval = query.groupBy?.intervalMs
  const per = query.groupBy?.per
  const onReceived = query.groupBy?.on === 'receivedAt'
  let total = 0
  for (const activity of activities) {
    if (!matches(activity)) continue
    total++
    if (activity.userId !== undefined) users.add(activity.userId)
    const visitor = activity.userId ?? activity.anonymousId
    if (visitor !== undefined) visitors.add(visitor)
    if (activity.sessionId !== undefined) sessions.add(activity.sessionId)
    const usage = activity.tokenUsage
    if (usage) {
      tokens.input += usage.input ?? 0
      tokens.output += usage.output ?? 0
      tokens.total += usage.total
    }
    const spent = activity.cost?.total ?? 0
    cost.total += spent
    if (activity.cost?.unpriced) cost.unpriced++
    if (activity.durationMs !== undefined) durations.push(activity.durationMs)
    const type = types.get(activity.activityType) ?? { count: 0, tokens: 0, cost: 0 }
    type.count++
    type.tokens += usage?.total ?? 0
    type.cost += spent
    types.set(activity.activityType, type)
    if (query.groupBy) {
      const key = per === undefined ? undefined : statsGroupKey(activity, per)
      if (per !== undefined && key === undefined) continue
      let startMs: number | undefined
      if (interval !== undefined) {
        const at = Date.parse(onReceived ? (activity.receivedAt ?? '') : activity.timestamp)
        if (Number.isNaN(at)) continue
        startMs = Math.floor(at / interval) * interval
      }
      const id = `${startMs ?? ''}\u0000${key ?? ''}`
      let bucket = buckets.get(id)
      if (!bucket) {
        bucket = { count: 0, tokens: 0, cost: 0 }
        if (startMs !== undefined) bucket.startMs = startMs
        if (key !== undefined) bucket.key = key
        buckets.set(id, bucket)
      }
      bucket.count++
      bucket.tokens += usage?.total ?? 0
      bucket.cost += spent
    }
  }
  durations.sort((a, b) => a - b)
  const stats: ActivityStats = {
    total,
    uniqueUsers: users.size,
    uniqueVisitors: visitors.size,
    sessions: sessions.size,
    tokens,
    cost,
    duration:
      durations.length === 0
        ? { avgMs: null, p50Ms: null, p95Ms: null }
        : {
            avgMs: durations.reduce((sum, value) => sum + value, 0) / durations.length,
            p50Ms: percentile(durations, 0.5),
            p95Ms: percentile(durations, 0.95),
          },
    byType: [...types]
      .map(([activityType, entry]) => ({ activityType, count: entry.count, tokens: entry.tokens, cost: entry.cost }))
      .sort((a, b) => b.count - a.count || compareText(a.activityType, b.activityType)),
  }
  if (query.groupBy) {
    const list = [...buckets.values()]
    list.sort(
      interval !== undefined
        ? (a, b) => a.startMs! - b.startMs! || compareText(a.key ?? '', b.key ?? '')
        : (a, b) => b.count - a.count || compareText(a.key ?? '', b.key ?? ''),
    )
    stats.buckets = list.map(({ startMs, ...bucket }) =>
      startMs === undefined ? bucket : { start: new Date(startMs).toISOString(), ...bucket },
    )
  }
  return stats
}
