/**
 * A framework-free typed client for the `@usertracking/server` read routes: list (cursor and
 * page-number paging), stats, export and a live stream over `EventSource` with reconnection and
 * `Last-Event-ID` resume. Only `fetch` and `EventSource` (both injectable); core is imported for
 * its types only, so none of its runtime is bundled.
 *
 * @packageDocumentation
 * @module @usertracking/client
 */
export { createActivityClient } from './activity-client'
export type {
  ActivityClient,
  ActivityClientOptions,
  ActivityExport,
  ActivityExportQuery,
  ActivityListQuery,
  ActivityPage,
  ActivityRoutes,
  ActivityStatsQuery,
  ActivityStatsResult,
  ExportFormat,
  RequestOptions,
} from './activity-client'
export { ActivityClientError } from './errors'
export type { ActivityClientIssue } from './errors'
export type { EventSourceConstructor, EventSourceInit, EventSourceLike, LiveOptions, LiveState, LiveSubscription, LiveTiming } from './live'
