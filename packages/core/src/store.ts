import type { Activity, ActivityStatus } from './activity'
import type { Sink } from './sink'

/** Which activities a read is about. Every field narrows; omitted fields do not. */
export interface ActivityFilter {
  /** Only this user's activities. */
  userId?: string
  /** Only activities of this type, or of any of these types. */
  activityType?: string | string[]
  /** Only activities whose `timestamp` is at or after this instant (ISO 8601 string or Date). */
  from?: string | Date
  /** Only activities whose `timestamp` is before this instant (exclusive). */
  to?: string | Date
  /** Only activities with at least this many total tokens (activities without token usage are excluded). */
  minTokens?: number
  /** Only activities with at most this many total tokens (activities without token usage are excluded). */
  maxTokens?: number
  /** Only activities with this status. */
  status?: ActivityStatus
}

/** Sort keys of {@link ListQuery}. `tokens` sorts by `tokenUsage.total`; activities without it sort last. */
export type ActivitySortKey = 'timestamp' | 'durationMs' | 'tokens'

/** A page request over a store. */
export interface ListQuery extends ActivityFilter {
  /** @default 'timestamp' */
  sort?: ActivitySortKey
  /** @default 'desc' — newest first, what an activity page shows. */
  order?: 'asc' | 'desc'
  /** Page size, 1–1000. @default 50 */
  limit?: number
  /** The `nextCursor` of the previous page. Opaque; stable when rows arrive meanwhile (keyset pagination). */
  cursor?: string
  /** Also count every matching activity into `total` (one more query on database stores). @default false */
  includeTotal?: boolean
}

/** One page of activities. */
export interface ListResult {
  items: Activity[]
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string
  /** Every matching activity, when `includeTotal` was asked for. */
  total?: number
}

/** An aggregate request: the filter, plus optional time buckets. */
export interface StatsQuery extends ActivityFilter {
  /**
   * Count activities per time bucket of `intervalMs` (buckets aligned to the Unix epoch, so 4 h
   * buckets start at 00:00, 04:00, … UTC), optionally per user or per activity type.
   */
  groupBy?: { intervalMs: number; per?: 'user' | 'activityType' }
}

/** Aggregates over the activities a {@link StatsQuery} selects. */
export interface ActivityStats {
  /** How many activities match. */
  total: number
  /** How many distinct `userId`s among them (activities without a user are not counted). */
  uniqueUsers: number
  /** Token sums over activities that carry token usage. */
  tokens: { input: number; output: number; total: number }
  /** Duration aggregates over activities that carry `durationMs`; `null` when none do. */
  duration: { avgMs: number | null; p50Ms: number | null; p95Ms: number | null }
  /** Counts and token totals per activity type, most frequent first (ties by type name). */
  byType: { activityType: string; count: number; tokens: number }[]
  /** Per-bucket counts, oldest first, when `groupBy` was asked for. `key` is the user id or type with `per`. */
  buckets?: { start: string; key?: string; count: number }[]
}

/** What `export` takes: a filter and an order; the store pages through everything that matches. */
export interface ExportQuery extends ActivityFilter {
  /** @default 'timestamp' */
  sort?: ActivitySortKey
  /** @default 'asc' */
  order?: 'asc' | 'desc'
  /** Rows fetched per page; memory stays bounded by it. @default 1000 */
  pageSize?: number
}

/**
 * A backend that can be written to (through its `sink`) and read back. The server handlers are
 * written against this interface only, so any store serves the same ingest, list, stats and export.
 */
export interface Store {
  /** Names the store in logs and errors. */
  readonly name: string
  /** Writes activities; idempotent by id. */
  readonly sink: Sink
  /** One page of matching activities. */
  list(query?: ListQuery): Promise<ListResult>
  /** Aggregates over matching activities. */
  stats(query?: StatsQuery): Promise<ActivityStats>
  /** Every matching activity, fetched in pages so that memory stays bounded. */
  export(query?: ExportQuery): AsyncIterable<Activity>
  /**
   * Pushes activities that match `filter` as they are written; returns the unsubscribe function.
   * Only where the backend can push (Firestore, the memory store); servers poll the others.
   */
  subscribe?(filter: ActivityFilter, onActivities: (activities: Activity[]) => void): () => void
  /** Creates tables or indexes the store needs; safe to call more than once. */
  migrate?(): Promise<void>
  /** Releases connections the store opened itself. */
  close?(): Promise<void>
}
