import type { Activity } from './activity'
import type { ActivityFilter } from './store'

function toMs(value: string | Date): number {
  return value instanceof Date ? value.getTime() : Date.parse(value)
}

/**
 * What a {@link ActivityFilter} means, as one predicate: every store's reads must select exactly the
 * activities it accepts (the conformance suite checks them against it). `from` / `receivedFrom` are
 * inclusive, `to` / `receivedTo` exclusive; `minTokens` / `maxTokens` exclude activities without
 * token usage, and a `receivedAt` bound excludes activities without `receivedAt`.
 *
 * @param filter - the filter to compile once; the predicate is then cheap per activity.
 * @returns whether an activity is one the filter selects.
 */
export function activityMatcher(filter: ActivityFilter): (activity: Activity) => boolean {
  const types =
    filter.activityType === undefined
      ? undefined
      : new Set(Array.isArray(filter.activityType) ? filter.activityType : [filter.activityType])
  const fromMs = filter.from === undefined ? undefined : toMs(filter.from)
  const toMsExclusive = filter.to === undefined ? undefined : toMs(filter.to)
  const receivedFromMs = filter.receivedFrom === undefined ? undefined : toMs(filter.receivedFrom)
  const receivedToMs = filter.receivedTo === undefined ? undefined : toMs(filter.receivedTo)
  const { userId, anonymousId, sessionId, minTokens, maxTokens, status } = filter
  return (activity) => {
    if (userId !== undefined && activity.userId !== userId) return false
    if (anonymousId !== undefined && activity.anonymousId !== anonymousId) return false
    if (sessionId !== undefined && activity.sessionId !== sessionId) return false
    if (types && !types.has(activity.activityType)) return false
    if (status !== undefined && activity.status !== status) return false
    if (fromMs !== undefined || toMsExclusive !== undefined) {
      const at = Date.parse(activity.timestamp)
      if (fromMs !== undefined && !(at >= fromMs)) return false
      if (toMsExclusive !== undefined && !(at < toMsExclusive)) return false
    }
    if (receivedFromMs !== undefined || receivedToMs !== undefined) {
      // An activity no store has recorded yet has no receivedAt: no receivedAt bound selects it.
      const at = activity.receivedAt === undefined ? NaN : Date.parse(activity.receivedAt)
      if (receivedFromMs !== undefined && !(at >= receivedFromMs)) return false
      if (receivedToMs !== undefined && !(at < receivedToMs)) return false
    }
    if (minTokens !== undefined || maxTokens !== undefined) {
      const total = activity.tokenUsage?.total
      if (total === undefined) return false
      if (minTokens !== undefined && total < minTokens) return false
      if (maxTokens !== undefined && total > maxTokens) return false
    }
    return true
  }
}

/**
 * Whether `activity` is one `filter` selects; see {@link activityMatcher}, which compiles a filter
 * once for many activities.
 *
 * @param activity - the activity to test.
 * @param filter - the filter, with the `Store` contract's semantics.
 */
export function matchesFilter(activity: Activity, filter: ActivityFilter): boolean {
  return activityMatcher(filter)(activity)
}
