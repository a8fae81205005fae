import type { Activity, ActivityFilter } from '@usertracking/core'

/** Whether `activity` is one `filter` selects, with the Store contract's semantics (`to` exclusive). */
export function matchesFilter(activity: Activity, filter: ActivityFilter): boolean {
  if (filter.userId !== undefined && activity.userId !== filter.userId) return false
  if (filter.activityType !== undefined) {
    const types = Array.isArray(filter.activityType) ? filter.activityType : [filter.activityType]
    if (!types.includes(activity.activityType)) return false
  }
  if (filter.status !== undefined && activity.status !== filter.status) return false
  const at = Date.parse(activity.timestamp)
  if (filter.from !== undefined && !(at >= new Date(filter.from).getTime())) return false
  if (filter.to !== undefined && !(at < new Date(filter.to).getTime())) return false
  if (filter.minTokens !== undefined || filter.maxTokens !== undefined) {
    const total = activity.tokenUsage?.total
    if (total === undefined) return false
    if (filter.minTokens !== undefined && total < filter.minTokens) return false
    if (filter.maxTokens !== undefined && total > filter.maxTokens) return false
  }
  return true
}
