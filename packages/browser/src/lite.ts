/**
 * The lite browser build: page views, clicks, time on page and custom events, delivered by
 * keepalive `fetch` and beacons, without IndexedDB — for analytics sites that count bytes. See
 * `createLiteTracking` for what it leaves to the full build (`@usertracking/browser`).
 *
 * @packageDocumentation
 * @module @usertracking/browser/lite
 */
export { UserTracking, createLiteTracking } from './lite-tracking'
export type { LiteTrackingApi } from './lite-tracking'
export type { TrackingApi } from './tracking-api'
export type { LiteTrackingOptions } from './options'
export { pageUrl, KEEP_QUERY_PARAMETERS } from './page-url'
