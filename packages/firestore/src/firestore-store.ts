import {
  activityMatcher,
  checkGroupBy,
  checkOffset,
  computeStats,
  resolveRetention,
  startRetentionJob,
  uuidv7,
  type Activity,
  type ActivityFilter,
  type ActivitySortKey,
  type ActivityStats,
  type DeletionResult,
  type DeletionSubject,
  type ExpiryResult,
  type ExportQuery,
  type IdentifyResult,
  type IdentityLink,
  type ListQuery,
  type ListResult,
  type RetentionOptions,
  type StatsQuery,
  type Store,
} from '@usertracking/core'
import type { FirestoreDatabase } from './adapter'
import { decodeCursor, encodeCursor, type CursorPosition } from './cursor'
import { fromDocument } from './document'
import { createFirestoreSink, MAX_BATCH_SIZE } from './firestore-sink'
import { deleteSubject, linkIdentity } from './identity'
import { checkLayout, userCollectionPath, type Layout } from './layout'
import { matchesNothing, planQueries, sortField, type QueryPlan, type QueryScope, type SortField } from './query-plan'
import { listenAgainOnError } from './live-listener'
import { expireFirestore } from './retention'
import { describeError, FirestoreStoreError } from './errors'
import { selectAdapter } from './select-adapter'

/** Options of {@link firestoreStore}. */
export interface FirestoreStoreOptions {
  /**
   * The database: a firebase-admin / `@google-cloud/firestore` `Firestore` (servers), or a web SDK
   * `Firestore` from `firebase/firestore` (browsers, or Node). The store never terminates it; it
   * belongs to the app.
   */
  db: FirestoreDatabase
  /**
   * The top-level collection, one document per user; deletion tombstones go to
   * `{collection}-tombstones`, named by the SHA-256 of the deleted person's id.
   * @default 'user-activities'
   */
  collection?: string
  /**
   * The collection of activities under each user, so one activity lives at
   * `{collection}/{userId}/{subcollection}/{id}`. Reads across users are collection group queries
   * on this id: keep it for activities only. The shipped rules and indexes name `activities`.
   * @default 'activities'
   */
  subcollection?: string
  /** Documents per commit, 1–500 (Firestore's limit for one commit). @default 500 */
  batchSize?: number
  /**
   * How far before a `subscribe` call its listener looks, in ms, so that activities written by a
   * process whose clock runs behind this one are not missed. Those written in that window are
   * pushed too.
   * @default 5000
   */
  liveLookbackMs?: number
  /**
   * How long after `deleteActivities` the sink refuses activities of that person tracked before the
   * deletion, in ms (30 days, longer than any tracker's retry window). The tombstone (in
   * `{collection}-tombstones`, under the SHA-256 of the person's id) carries `expireAt`, which
   * lets a Firestore TTL policy remove it afterwards.
   * @default 2592000000
   */
  tombstoneMs?: number
  /**
   * Delete activities older than `maxAgeDays` (by the earlier of `timestamp` and `receivedAt`),
   * identity links older than that and expired tombstones: hourly by a background job that runs on
   * one process at a time (a lease: a transaction on the document `{collection}/%retention`), or
   * through `store.expireActivities()` from your own scheduler. Each activity written meanwhile
   * carries `expireAt` for a Firestore TTL policy, the native equivalent (see docs/firestore.md).
   * Run it with firebase-admin: the shipped rules let no browser delete. @default undefined — every
   * document is kept.
   */
  retention?: RetentionOptions
  /**
   * Errors of `subscribe` listeners (a rule refusing the read, a lost index, the backend lost), each
   * a `FirestoreStoreError` saying when the listener listens again, of `onActivities` callbacks, and
   * of retention runs (the job runs again at its next interval). A throw from it is swallowed.
   * @default console.error
   */
  onError?: (error: unknown) => void
  /**
   * The clock that stamps `storedAt` and a missing `receivedAt` over firebase-admin (the web SDK
   * uses the server's, which security rules can check), in Unix ms.
   * @default Date.now
   */
  now?: () => number
}

/** A `Store` (from `@usertracking/core`) over Firestore, with `subscribe` on `onSnapshot`. */
export interface FirestoreStore extends Store {
  /**
   * Pushes activities matching `filter` as they are written, by any process; returns the
   * unsubscribe function. With `userId`, it listens to that user's collection alone (what a signed-in
   * browser may read under the shipped rules); without, to every user's. When the listener fails,
   * the failure goes to `onError` and a new listener starts after a backoff (up to 1 s, doubling
   * with each failure in a row to at most 60 s, fully jittered), starting `liveLookbackMs` before
   * the failure of the last listener that answered, so nothing written meanwhile is missed; an
   * activity is pushed once however many listeners see it.
   */
  subscribe(filter: ActivityFilter, onActivities: (activities: Activity[]) => void): () => void
  /**
   * Attributes an anonymous visitor's activities to the user they signed in as: remembered in the
   * visitor's owner document, so later writes go to the user too, and the stored ones moved into
   * the user's collection (a write and a delete each). Call it only for an authenticated user.
   */
  identify(link: IdentityLink): Promise<IdentifyResult>
  /**
   * Deletes every activity of one user (with those of the anonymous ids linked to them) or of one
   * anonymous visitor, and their identity links; late deliveries of what they did before are
   * refused for `tombstoneMs`.
   */
  deleteActivities(subject: DeletionSubject): Promise<DeletionResult>
  /**
   * Deletes what `retention` says is too old, in commits of 500, under the lease; a call while
   * another process holds the lease answers `{ deleted: 0, skipped: true }`. Rejects with a
   * `TypeError` without `retention`.
   */
  expireActivities(): Promise<ExpiryResult>
  /** Stops the retention job (a run in progress stops after its current commit, and is awaited). */
  close(): Promise<void>
}

/** Default and largest page of `list`, per the {@link ListQuery} contract. */
const DEFAULT_LIMIT = 50
const MAX_LIMIT = 1000
/** Default and largest page `export` and `stats` read at a time. */
const DEFAULT_EXPORT_PAGE = 1000
const MAX_EXPORT_PAGE = 10_000
/** Documents read per query when some filter is matched in this process, not by Firestore. */
const SCAN_CHUNK = 100

function clamp(value: number | undefined, fallback: number, max: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback
  return Math.min(max, Math.max(1, Math.floor(value)))
}

/** The value of a document's sort field, as a cursor keeps it: epoch ms for timestamps, else the number or null. */
function sortValue(data: Record<string, unknown>, field: SortField): number | null {
  const value = data[field]
  if (value === null || value === undefined) return null
  if (typeof value === 'number') return value
  return (value as { toMillis(): number }).toMillis()
}

/** The sort a scan that only needs the rows (count, stats) reads in: the one whose range Firestore can apply. */
function scanSort(filter: ActivityFilter): ActivitySortKey {
  return filter.from === undefined && filter.to === undefined && (filter.minTokens !== undefined || filter.maxTokens !== undefined)
    ? 'tokens'
    : 'timestamp'
}

/**
 * A store over Firestore: `sink` writes batches idempotently (one document per activity, its id the
 * activity id), `list` pages with an opaque cursor, `stats` aggregates, `export` streams in pages
 * and `subscribe` pushes new activities from `onSnapshot`. Works over firebase-admin on servers and
 * over the web SDK in browsers; see `firestore.rules` and `firestore.indexes.json` in this package.
 *
 * @example
 * ```ts
 * import { getFirestore } from 'firebase-admin/firestore'
 * const store = firestoreStore({ db: getFirestore() })
 * const tracker = createTracker({ sinks: [store.sink] })
 * const page = await store.list({ userId: 'abc123', sort: 'tokens', limit: 20 })
 * ```
 *
 * @param options - the database and where activities live; see {@link FirestoreStoreOptions}.
 */
export function firestoreStore(options: FirestoreStoreOptions): FirestoreStore {
  if (typeof options !== 'object' || options === null) throw new TypeError('[usertracking] [firestore] options must be an object with a db.')
  const adapter = selectAdapter(options.db)
  const layout: Layout = checkLayout({ collection: options.collection ?? 'user-activities', subcollection: options.subcollection ?? 'activities' })
  const batchSize = options.batchSize ?? MAX_BATCH_SIZE
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new TypeError(`[usertracking] [firestore] options.batchSize must be an integer from 1 to ${MAX_BATCH_SIZE}, not ${String(batchSize)}.`)
  }
  const liveLookbackMs = options.liveLookbackMs ?? 5000
  if (!Number.isFinite(liveLookbackMs) || liveLookbackMs < 0) {
    throw new TypeError(`[usertracking] [firestore] options.liveLookbackMs must be a non-negative number of milliseconds, not ${String(liveLookbackMs)}.`)
  }
  const now = options.now ?? Date.now
  const tombstoneMs = options.tombstoneMs ?? 2_592_000_000
  if (!Number.isFinite(tombstoneMs) || tombstoneMs < 0) {
    throw new TypeError(`[usertracking] [firestore] options.tombstoneMs must be a non-negative number of milliseconds, not ${String(tombstoneMs)}.`)
  }
  const onError =
    options.onError ??
    ((error: unknown) => {
      console.error(`[usertracking] [firestore] ${error instanceof Error ? error.message : String(error)}`, error)
    })
  /** Hands an error to `onError`, which is the last resort: a throw from it must never reach the host process. */
  const report = (error: unknown) => {
    try {
      onError(error)
    } catch {
      // Nowhere left to report it.
    }
  }
  const retention = resolveRetention(options.retention, 'firestore')
  /** Names this store in the retention lease. */
  const holder = uuidv7()
  const expire = async (signal?: AbortSignal): Promise<ExpiryResult> => {
    if (!retention) throw new TypeError('[usertracking] [firestore] expireActivities() needs options.retention ({ maxAgeDays }).')
    return expireFirestore(adapter, layout, { maxAgeMs: retention.maxAgeMs, now, holder }, signal)
  }
  const job = retention?.runInBackground
    ? startRetentionJob(expire, retention.intervalMs, (error) =>
        report(
          new FirestoreStoreError(`The retention job under ${layout.collection} failed (it runs again in ${retention.intervalMs} ms): ${describeError(error)}`, {
            cause: error,
          }),
        ),
      )
    : undefined

  /**
   * One page: runs the plans in turn, keeping the documents `filter` selects (after skipping the
   * first `skip` of them), until `limit + 1` are found (the extra one says there is a next page) or
   * the plans run dry.
   */
  async function page(filter: ActivityFilter, sort: ActivitySortKey, order: 'asc' | 'desc', limit: number, cursor?: string, skip = 0) {
    if (matchesNothing(filter)) return { items: [] as Activity[] }
    const collectionPath = filter.userId === undefined ? undefined : userCollectionPath(layout, filter.userId)
    const position = cursor === undefined ? undefined : decodeCursor(layout, cursor, sort, order, collectionPath)
    const matches = activityMatcher(filter)
    const field = sortField(sort, order)
    const found: { activity: Activity; position: CursorPosition }[] = []
    let skipped = 0
    for (const plan of planQueries(layout, filter, sort, order, position)) {
      let current: QueryPlan = plan
      for (;;) {
        const wanted = limit + 1 - found.length + (skip - skipped)
        const size = Math.min(MAX_EXPORT_PAGE, plan.exact ? wanted : Math.max(wanted, SCAN_CHUNK))
        const documents = await adapter.run(current, size)
        for (const document of documents) {
          const activity = fromDocument(document.data)
          if (!matches(activity)) continue
          if (skipped < skip) {
            skipped++
            continue
          }
          found.push({ activity, position: { value: sortValue(document.data, field), path: document.path } })
          if (found.length > limit) break
        }
        if (found.length > limit || documents.length < size) break
        const last = documents[documents.length - 1]!
        current = { ...plan, startAfter: { value: plan.nullsOnly ? null : sortValue(last.data, field), path: last.path } }
      }
      if (found.length > limit) break
    }
    const items = found.slice(0, limit).map((entry) => entry.activity)
    if (found.length <= limit) return { items }
    return { items, nextCursor: encodeCursor(sort, order, found[limit - 1]!.position) }
  }

  async function* scan(filter: ActivityFilter, sort: ActivitySortKey, order: 'asc' | 'desc', pageSize: number): AsyncGenerator<Activity[]> {
    let cursor: string | undefined
    do {
      const result = await page(filter, sort, order, pageSize, cursor)
      if (result.items.length > 0) yield result.items
      cursor = result.nextCursor
    } while (cursor !== undefined)
  }

  async function count(filter: ActivityFilter): Promise<number> {
    if (matchesNothing(filter)) return 0
    const sort = scanSort(filter)
    const plans = planQueries(layout, filter, sort, 'desc')
    if (plans.length === 1 && plans[0]!.exact) return adapter.count(plans[0]!)
    let total = 0
    for await (const items of scan(filter, sort, 'desc', DEFAULT_EXPORT_PAGE)) total += items.length
    return total
  }

  return {
    name: 'firestore',
    sink: createFirestoreSink(adapter, layout, { batchSize, tombstoneMs, now, maxAgeMs: retention?.maxAgeMs }),

    identify: (link) => linkIdentity(adapter, layout, link, now()),

    deleteActivities: (subject) => deleteSubject(adapter, layout, subject, now(), tombstoneMs),

    expireActivities: () => expire(),

    close: async () => {
      await job?.stop()
    },

    async list(query: ListQuery = {}): Promise<ListResult> {
      const sort = query.sort ?? 'timestamp'
      const order = query.order ?? 'desc'
      const limit = clamp(query.limit, DEFAULT_LIMIT, MAX_LIMIT)
      const offset = checkOffset(query, 'firestore')
      const [result, total] = await Promise.all([
        page(query, sort, order, limit, query.cursor, offset),
        query.includeTotal ? count(query) : undefined,
      ])
      return total === undefined ? result : { ...result, total }
    },

    // Firestore's aggregations (count, sum, average) cannot give distinct users, visitors and
    // sessions, percentiles or buckets, so stats reads the matching activities once, in pages, and
    // aggregates them with core's computeStats (the one implementation of the contract's semantics).
    async stats(query: StatsQuery = {}): Promise<ActivityStats> {
      checkGroupBy(query.groupBy, 'firestore')
      const rows: Activity[] = []
      for await (const items of scan(query, scanSort(query), 'desc', DEFAULT_EXPORT_PAGE)) {
        // Only what stats reads is kept, so memory grows with the rows and not their payloads.
        for (const { metadata: _metadata, description: _description, error: _error, ...row } of items) rows.push(row)
      }
      return computeStats(rows, query, 'firestore')
    },

    async *export(query: ExportQuery = {}): AsyncGenerator<Activity> {
      const pageSize = clamp(query.pageSize, DEFAULT_EXPORT_PAGE, MAX_EXPORT_PAGE)
      for await (const items of scan(query, query.sort ?? 'timestamp', query.order ?? 'asc', pageSize)) yield* items
    },

    subscribe(filter: ActivityFilter, onActivities: (activities: Activity[]) => void): () => void {
      const matches = activityMatcher(filter)
      const scope: QueryScope = filter.userId === undefined ? { group: layout.subcollection } : { collection: userCollectionPath(layout, filter.userId) }
      return listenAgainOnError({
        listen: (sinceMs, onAdded, onListenerError) => adapter.listen(scope, sinceMs, onAdded, onListenerError),
        sinceMs: now() - liveLookbackMs,
        lookbackMs: liveLookbackMs,
        describe: 'collection' in scope ? scope.collection : `every ${scope.group} collection`,
        now,
        onDocuments: (documents) => {
          const activities = documents.map((document) => fromDocument(document.data)).filter(matches)
          if (activities.length === 0) return
          try {
            onActivities(activities)
          } catch (error) {
            report(error)
          }
        },
        onError: report,
      })
    },
  }
}
