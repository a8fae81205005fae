/**
 * The server half of usertracking: one web-standard handler (`createActivityHandler`) serving
 * ingest (with group commit), list, stats, export, a live stream, identity linking, a person's
 * export and deletion, and Prometheus metrics over any `Store`, secure by default, with
 * `toNodeListener` for node:http and Express (and a fast path for ingest there).
 *
 * @packageDocumentation
 * @module @usertracking/server
 */
export { createActivityHandler } from './handler'
export type { ActivityHandler, ActivityHandlerOptions, HandlerContext } from './handler'
export type { Authenticate, AuthenticateResult, Principal } from './auth'
export type { CorsOptions } from './cors'
export { HttpError } from './errors'
export type { HttpErrorOptions, HttpIssue } from './errors'
export { DEFAULT_ROUTES } from './routes'
export type { RouteName, RoutePaths, RouteTable } from './routes'
export type { GroupCommitOptions } from './group-commit'
export { DATA_DELETION_TYPE, deletionHash } from './deletion-record'
export type { DeletionRecord } from './deletion-record'
export type { ListAnswer, PresentContext, Presenters, StatsAnswer } from './reads'
export { userIdAsSent } from './user-id'
export type { Pagination } from './query'
export type { RateLimitOptions } from './rate-limit'
export { bearerToken } from './bearer-token'
export type { MetricsAuthenticate, MetricsOptions } from './metrics'
export { toNodeListener } from './node-listener'
export type { NodeListener, WebHandler } from './node-listener'
export { anonymizeIp, clientIp } from './client-ip'
export type { TrustProxy } from './client-ip'
export { CSV_COLUMNS, csvHeader, csvRow } from './csv'
export type { LiveFeedOptions } from './live-feed'
export type { LiveOptions } from './live-options'
export type { LiveBus, LiveBusPublishResult } from './live-bus'
