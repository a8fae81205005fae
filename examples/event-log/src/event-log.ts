import type { Store } from '@usertracking/core'
import { bearerToken, createActivityHandler, userIdAsSent, type ActivityHandler } from '@usertracking/server'

/** What {@link createEventLog} needs. */
export interface EventLogOptions {
  /** Where events are kept: `postgresStore` over the app's PostgreSQL. */
  store: Store
  /**
   * The service token the event log's backend and website send as `Authorization: Bearer …` to
   * post and read events; at least 16 characters (`EVENTS_TOKEN`).
   */
  eventsToken: string | undefined
  /** The token Prometheus sends to scrape `/metrics`; at least 16 characters (`METRICS_TOKEN`). */
  metricsToken: string | undefined
  /** Store failures and unexpected errors. @default console.error */
  onError?: (error: unknown) => void
  /** The clock that stamps when an event was received, in Unix milliseconds. @default Date.now */
  now?: () => number
}

/** One event as the seed's `GET /api/events` answers it. */
export interface EventRow {
  /** The user id as it was sent: `6`, not `"6"`. */
  user_id: string | number | null
  /** When the user acted, as the client said. */
  event_action_timestamp: string
  action: string
  metadata: Record<string, unknown>
}

/**
 * Story 2's event log API, in one web-standard handler:
 *
 * - `POST /api/event` with `{ user_id, event_action_timestamp, action, metadata }` (one, or an
 *   array) → 201;
 * - `GET /api/events?user_id&from&to` → a bare array of {@link EventRow}, searched by the time
 *   each record was received ("not when it was active");
 * - `GET /api/events/stats?interval=4h&per=user` → the per-user counts every 4 hours, on the
 *   received time, in one call;
 * - `GET /metrics` → `user_activity_tracking_api_requests_total` and
 *   `user_activity_tracking_api_requests_errors_total`, as the Grafana dashboard reads them.
 */
export function createEventLog(options: EventLogOptions): ActivityHandler {
  const isBackend = bearerToken(options.eventsToken)
  return createActivityHandler({
    store: options.store,
    authenticate: (request) => (isBackend(request) ? { userId: 'events-backend', admin: true } : null),
    // Events come from the service only: a request without its token is refused (401), not stored anonymously.
    allowAnonymousIngest: false,
    routes: { ingest: false, event: '/event', list: '/events', stats: '/events/stats', export: false, stream: false },
    // "User activity is searched by the date the record was added to the system."
    timeAxis: 'receivedAt',
    present: {
      list: ({ items }): EventRow[] =>
        items.map((activity) => ({
          user_id: userIdAsSent(activity) ?? null,
          event_action_timestamp: activity.timestamp,
          action: activity.activityType,
          metadata: activity.metadata ?? {},
        })),
    },
    metrics: { prefix: 'user_activity_tracking_api_', authenticate: bearerToken(options.metricsToken) },
    ...(options.onError ? { onError: options.onError } : {}),
    ...(options.now ? { now: options.now } : {}),
  })
}
