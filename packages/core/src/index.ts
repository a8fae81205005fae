export type {
  Activity,
  ActivityContext,
  ActivityInput,
  ActivityStatus,
  JsonObject,
  JsonPrimitive,
  JsonValue,
  TokenUsage,
} from './activity'
export { normalizeActivity, formatIssues, NORMALIZE_DEFAULTS } from './normalize'
export type { NormalizeOptions, NormalizeResult, ValidationIssue } from './normalize'
export { activitySchema, parseActivity } from './schema'
export type { ParseActivityResult } from './schema'
export { uuidv7, isUuid, uuidv7Time } from './uuid'
export type { Sink, SinkResult, SinkWriteOptions, RejectedActivity } from './sink'
export { memoryStorage } from './storage'
export { memoryStore, type MemoryStoreOptions } from './memory-store'
export type { Storage } from './storage'
export type {
  ActivityFilter,
  ActivitySortKey,
  ActivityStats,
  ExportQuery,
  ListQuery,
  ListResult,
  StatsQuery,
  Store,
} from './store'
