import type { Activity } from '@usertracking/core'

/**
 * The user id of an activity as its client sent it: a number when the ingest body had
 * `"user_id": 6` (the handler keeps `context.userIdType: 'number'` for it, since the activity
 * itself holds ids as strings), else the string. For presenters answering an app whose front
 * end expects numeric ids.
 *
 * @param activity - an activity read back from the store.
 */
export function userIdAsSent(activity: Activity): string | number | undefined {
  const { userId } = activity
  if (userId === undefined || activity.context?.userIdType !== 'number') return userId
  const number = Number(userId)
  return Number.isFinite(number) ? number : userId
}
