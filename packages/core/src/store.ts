import type { Activity, ActivityStatus } from './activity'
import type { ExpiryResult } from './retention'
import type { Sink } from './sink'

/** Which activities a read is about. Every field narrows; omitted fields do not. */
export interface ActivityFilter {
  /** Only this user's activities. */
  userId?: string
  /** Only this anonymous visitor's activities (by `anonymousId`, whether or not a user was linked to them). */
  anonymousId?: string
  /** Only activities of this session. */
  sessionId?: string
  /** Only activities of this type, or of any of these types. */
  activityType?: string | string[]
  /** Only activities whose `timestamp` (when the user acted) is at or after this instant (ISO 8601 string or Date). */
  from?: string | Date
  /** Only activities whose `timestamp` is before this instant (exclusive). */
  to?: string | Date
  /** Only activities whose `receivedAt` (when the store recorded them) is at or after this instant. */
  receivedFrom?: string | Date
  /** Only activities whose `receivedAt` is before this instant (exclusive). */
  receivedTo?: string | Date
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
  /**
   * Skip this many matching rows first: page-number pagination (`offset = (page - 1) * limit`) for
   * admin tables that show page numbers. Not combined with `cursor`; at most {@link MAX_LIST_OFFSET},
   * since a deep offset costs the database a scan of every skipped row (use `cursor` to walk far).
   * @default 0
   */
  offset?: number
}

/** The largest {@link ListQuery.offset} a store accepts; beyond it, walk with `cursor`. */
export const MAX_LIST_OFFSET = 100_000

/** One page of activities. */
export interface ListResult {
  items: Activity[]
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string
  /** Every matching activity, when `includeTotal` was asked for. */
  total?: number
}

/**
 * One page of the server's list route as it goes over the wire (its default JSON, before a
 * presenter reshapes it), and what `@usertracking/client` reads: a store's {@link ListResult}, plus
 * the page-number fields. In page-number mode `total` is always there.
 */
export interface ListPage extends ListResult {
  /** Page-number mode: this page's number, from 1. */
  page?: number
  /** Page-number mode: the page size. */
  perPage?: number
  /** Page-number mode: how many pages `total` fills (0 when nothing matches). */
  pages?: number
}

/** What a stats bucket is keyed by, besides time; see {@link StatsGroupBy.per}. */
export type StatsGroupKey = 'user' | 'visitor' | 'activityType' | 'page' | 'host'

/** How {@link StatsQuery} splits its activities into buckets. */
export interface StatsGroupBy {
  /**
   * Bucket width in milliseconds; buckets are aligned to the Unix epoch, so 4 h buckets start at
   * 00:00, 04:00, … UTC. Omit it (with `per` set) for one bucket per key over the whole filter.
   */
  intervalMs?: number
  /**
   * Also split by: `user` (`userId`; activities without one are not bucketed), `visitor` (`userId`,
   * else `anonymousId`), `activityType`, `page` (`context.page`) or `host` (`context.host`).
   * Activities lacking the key are left out of the buckets (still counted in the totals).
   */
  per?: StatsGroupKey
  /** Which time the buckets use: when the user acted, or when the store received it. @default 'timestamp' */
  on?: 'timestamp' | 'receivedAt'
}

/** An aggregate request: the filter, plus optional buckets. */
export interface StatsQuery extends ActivityFilter {
  /** Buckets by time, by a key, or both. At least one of `intervalMs` and `per` must be set. */
  groupBy?: StatsGroupBy
}

/** Cost sums of {@link ActivityStats}. */
export interface CostTotals {
  /** Sum of `cost.total` over priced activities, in `currency`. */
  total: number
  /** Always `'USD'`: every price source is in US dollars. */
  currency: 'USD'
  /** Activities with token usage whose cost is unknown (`cost.unpriced`): the sum leaves them out. */
  unpriced: number
}

/** One bucket of {@link ActivityStats.buckets}. */
export interface StatsBucket {
  /** Start of the bucket (ISO 8601) when `groupBy.intervalMs` was set. */
  start?: string
  /** The user id, visitor id, type, page or host, when `groupBy.per` was set. */
  key?: string
  /** Activities in the bucket. */
  count: number
  /** Sum of `tokenUsage.total` in the bucket. */
  tokens: number
  /** Sum of `cost.total` in the bucket, in USD. */
  cost: number
}

/** Aggregates over the activities a {@link StatsQuery} selects. */
export interface ActivityStats {
  /** How many activities match. */
  total: number
  /** How many distinct `userId`s among them (activities without a user are not counted). */
  uniqueUsers: number
  /** How many distinct people: a `userId`, or the `anonymousId` of an activity without one. */
  uniqueVisitors: number
  /** How many distinct `sessionId`s among them (activities without a session are not counted). */
  sessions: number
  /** Token sums over activities that carry token usage. */
  tokens: { input: number; output: number; total: number }
  /** Cost sums over activities that carry a cost. */
  cost: CostTotals
  /** Duration aggregates over activities that carry `durationMs`; `null` when none do. */
  duration: { avgMs: number | null; p50Ms: number | null; p95Ms: number | null }
  /** Counts, token and cost totals per activity type, most frequent first (ties by type name). */
  byType: { activityType: string; count: number; tokens: number; cost: number }[]
  /**
   * Buckets, when `groupBy` was asked for: with `intervalMs`, oldest first (then by key); without
   * it, most activities first (ties by key). Buckets with no activities are omitted.
   */
  buckets?: StatsBucket[]
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
  /**
   * Attributes an anonymous visitor's activities to the user they signed in as, so that reads by
   * `userId` and `uniqueVisitors` count the person once, including what they did before signing
   * in: activities with this `anonymousId` and no `userId` get `userId`, those already stored and
   * those written later. Only call it for a `userId` the caller has authenticated. Every built-in
   * store implements it.
   */
  identify?(link: IdentityLink): Promise<IdentifyResult>
  /**
   * Deletes every activity of one person (by `userId`, or by `anonymousId`), and whatever the store
   * keeps about them (identity links); activities of that person written later but tracked before
   * the deletion are refused for a bounded time (see each store's docs). Every built-in store
   * implements it.
   */
  deleteActivities?(subject: DeletionSubject): Promise<DeletionResult>
  /**
   * Deletes the activities older than the store's `retention.maxAgeDays` (see `RetentionOptions`:
   * by the earlier of `timestamp` and `receivedAt`), and what the store keeps about people for
   * longer than that (identity links; expired deletion tombstones). The store's background job
   * calls it; call it yourself from a scheduler with `retention.runInBackground: false`. Rejects with
   * a `TypeError` when the store has no `retention` option. Every built-in store implements it.
   */
  expireActivities?(): Promise<ExpiryResult>
  /** Creates tables or indexes the store needs; safe to call more than once. */
  migrate?(): Promise<void>
  /** Stops the store's background work (live updates, the retention job) and releases connections it opened itself. */
  close?(): Promise<void>
}

/** An anonymous visitor who signed in, for {@link Store.identify}. */
export interface IdentityLink {
  /** The authenticated user. */
  userId: string
  /** The anonymous id the visitor had before signing in. */
  anonymousId: string
}

/** What {@link Store.identify} did. */
export interface IdentifyResult {
  /** Stored activities that were attributed to the user by this call. */
  linked: number
}

/** Whose activities {@link Store.deleteActivities} deletes: one user, or one anonymous visitor. */
export type DeletionSubject = { userId: string; anonymousId?: never } | { anonymousId: string; userId?: never }

/** What {@link Store.deleteActivities} did. */
export interface DeletionResult {
  /** Activities deleted. */
  deleted: number
}
