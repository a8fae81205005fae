/** @module @usertracking/server */
export { createActivityHandler } from './handler'
export type { ActivityHandler, ActivityHandlerOptions, CorsOptions, HandlerContext, Principal } from './handler'
export { toNodeListener } from './node-listener'
export type { NodeListener, WebHandler } from './node-listener'
export { anonymizeIp, clientIp } from './client-ip'
export type { TrustProxy } from './client-ip'
export { CSV_COLUMNS, csvHeader, csvRow } from './csv'
export type { LiveFeedOptions } from './live-feed'
