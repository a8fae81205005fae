/**
 * Browser tracking: `UserTracking` with autocapture, consent, write-ahead IndexedDB storage and
 * unload-safe delivery. The lite build, without IndexedDB, is `@usertracking/browser/lite`.
 *
 * @packageDocumentation
 * @module @usertracking/browser
 */
export { UserTracking, createUserTracking } from './user-tracking'
export type { UserTrackingApi } from './user-tracking'
export type { TrackingApi } from './tracking-api'
export type { LiteTrackingOptions, UserTrackingOptions } from './options'
export { indexedDbStorage } from './indexeddb-storage'
export type { IndexedDbStorageOptions, PageStorage } from './indexeddb-storage'
export { pageSink } from './page-sink'
export type { PageSink } from './page-sink'
export { pageUrl, KEEP_QUERY_PARAMETERS } from './page-url'
export { readScriptOptions } from './script-options'
export { SESSION_TIMEOUT_MS } from './identity'
