import type { Activity, Store } from '@usertracking/core'
import { createActivityHandler, type ActivityHandler, type Principal, type TrustProxy } from '@usertracking/server'

/** One activity as the site's `UserActivity` model serialises it. */
export interface UserActivityRow {
  id: string
  /** The anonymous but persistent id of the visitor (or a signed-in user's id). */
  user_identifier: string | null
  action_type: string
  page: string
  element_id: string | null
  user_agent: string | null
  ip_address: string | null
  timestamp: string
  /** Extra data as a JSON string, as the model's `Text` column holds it. */
  additional_data: string | null
}

/** `GET /api/admin/activities`, as the admin dashboard reads it. */
export interface ActivitiesPage {
  activities: UserActivityRow[]
  total: number
  page: number
  per_page: number
  pages: number
}

/** `GET /api/admin/activity-stats`, as the admin dashboard reads it. */
export interface ActivityStatsBody {
  action_stats: Record<string, number>
  unique_users: number
  total_activities: number
  recent_activities: number
}

/** What {@link createTrackingApi} needs. */
export interface TrackingApiOptions {
  store: Store
  /** The admin's principal for a request carrying an admin session, else `null`: the tracking script's requests are anonymous. */
  adminOf: (request: Request) => Principal | null
  /** Proxies in front of the site, so `ip_address` is the visitor's. @default false */
  trustProxy?: TrustProxy
  /** Store failures and unexpected errors. @default console.error */
  onError?: (error: unknown) => void
}

/** One stored activity as a row of the site's `UserActivity` table. */
export function toUserActivity(activity: Activity): UserActivityRow {
  return {
    id: activity.id,
    user_identifier: activity.anonymousId ?? activity.userId ?? null,
    action_type: activity.activityType,
    page: activity.context?.page ?? '',
    element_id: activity.context?.element ?? null,
    user_agent: activity.context?.userAgent ?? null,
    ip_address: activity.context?.ip ?? null,
    timestamp: activity.timestamp,
    additional_data: activity.metadata ? JSON.stringify(activity.metadata) : null,
  }
}

/**
 * The site's tracking endpoints, with its own routes and JSON:
 *
 * - `POST /api/track`: what the `UserTracking` script sends (and the seed's manual body
 *   `{ action_type, element_id, additional_data }`), anonymous; the server adds the IP and the user agent;
 * - `GET /api/admin/activities?page&per_page&action_type&user_id` → {@link ActivitiesPage}, where
 *   `user_id` is the anonymous "user identifier";
 * - `GET /api/admin/activity-stats` → {@link ActivityStatsBody}, `recent_activities` over 24 hours.
 *
 * The admin routes answer 401 without an admin session.
 */
export function createTrackingApi(options: TrackingApiOptions): ActivityHandler {
  return createActivityHandler({
    store: options.store,
    authenticate: options.adminOf,
    routes: { ingest: '/track', event: false, list: '/admin/activities', stats: '/admin/activity-stats', export: false, stream: false },
    pagination: 'page',
    // The admin page's `user_id` filter is the anonymous "user identifier".
    queryAliases: { user_id: 'anonymousId' },
    present: {
      // With `pagination: 'page'` every list answer carries the page numbers.
      list: (answer): ActivitiesPage => ({
        activities: answer.items.map(toUserActivity),
        total: answer.total!,
        page: answer.page!,
        per_page: answer.perPage!,
        pages: answer.pages!,
      }),
      stats: (stats): ActivityStatsBody => ({
        action_stats: Object.fromEntries(stats.byType.map((type) => [type.activityType, type.count])),
        // The site's visitors are anonymous: a "user" is a visitor (a user id, or an anonymous id).
        unique_users: stats.uniqueVisitors,
        total_activities: stats.total,
        recent_activities: stats.recent.total,
      }),
    },
    // The site has no Prometheus; the route is off rather than guarded.
    metrics: false,
    ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  })
}
