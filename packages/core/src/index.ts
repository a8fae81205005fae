/**
 * The runtime-agnostic core of usertracking: the activity schema, the tracker and its reliable
 * queue, the `Sink` / `Storage` / `Store` contracts, `httpSink`, `memorySink`, `memoryStore` and
 * `withActivity`. No Node or DOM APIs; zod is its only dependency.
 *
 * @packageDocumentation
 * @module @usertracking/core
 */
export type {
  Activity,
  ActivityContext,
  ActivityCost,
  ActivityInput,
  ActivityStatus,
  JsonObject,
  JsonPrimitive,
  JsonValue,
  TokenUsage,
} from './activity'
export { normalizeActivity, formatIssues, isPlainObject, NORMALIZE_DEFAULTS, ACTIVITY_LIMITS } from './normalize'
export { normalizeCanonicalActivity } from './normalize-canonical'
export { unref } from './unref'
export { monotonicNow } from './monotonic-now'
export { positiveOption, MAX_TIMER_MS } from './positive-option'
export { settleWithin } from './settle-within'
export { checkIdentityLink, checkDeletionSubject } from './identity-checks'
export type { PositiveOptionCheck } from './positive-option'
export type { NormalizeOptions, NormalizeResult, ValidationIssue } from './normalize'
export { activitySchema, parseActivity } from './schema'
export type { ParseActivityResult } from './schema'
export { uuidv7, isUuid, uuidv7Time } from './uuid'
export { smallUuidv7 } from './small-uuid'
export type { Sink, SinkResult, SinkWriteOptions, RejectedActivity } from './sink'
export { memoryStorage } from './storage'
export { memoryStore, type MemoryStore, type MemoryStoreOptions } from './memory-store'
export { activityMatcher, matchesFilter } from './filter'
export type { Storage } from './storage'
export { MAX_LIST_OFFSET } from './store'
export type {
  ActivityFilter,
  ActivitySortKey,
  ActivityStats,
  CostTotals,
  DeletionResult,
  DeletionSubject,
  ExportQuery,
  IdentifyResult,
  IdentityLink,
  ListQuery,
  ListPage,
  ListResult,
  StatsBucket,
  StatsGroupBy,
  StatsGroupKey,
  StatsQuery,
  Store,
} from './store'
export { RETENTION_DEFAULTS, resolveRetention, isExpired, startRetentionJob } from './retention'
export type { RetentionOptions, ExpiryResult, ResolvedRetention, RetentionJob } from './retention'
export { checkGroupBy, checkOffset, computeStats, statsGroupKey } from './stats'
export { createTracker, createCanonicalTracker, mergeActivityDefaults } from './tracker'
export type { Tracker, TrackerEvents, TrackerStats, ShutdownOptions, FlushOptions, FlushReport } from './tracker'
export { flushBeforeReturn, FLUSH_BEFORE_RETURN_DEFAULTS } from './flush-before-return'
export type { FlushBeforeReturnOptions, RemainingTimeContext } from './flush-before-return'
export { TRACKER_DEFAULTS, PAGED_QUEUE_BYTES } from './options'
export type { TrackerOptions, TrackerDefaults, DropReason, DropDetail } from './options'
export { httpSink } from './http-sink'
export type { HttpSinkOptions } from './http-sink'
export { memorySink } from './memory-sink'
export type { MemorySink, MemorySinkOptions } from './memory-sink'
export { httpStatusToResult, defaultStatusPolicy } from './http-result'
export type { HttpStatusPolicy, StatusCodeOverrides } from './http-result'
export { backoffDelay, parseRetryAfter } from './backoff'
export { withActivity } from './with-activity'
export type { ActivityScope, WithActivityOptions, FromArgs, WithoutScope } from './with-activity'
export { extractUsage, mergeUsage, addUsage } from './usage'
export type { PartialUsage } from './usage'
export { createLogger } from './logger'
export type { Logger } from './logger'
export { UserTrackingError, ValidationError, SinkError, StorageError } from './errors'
