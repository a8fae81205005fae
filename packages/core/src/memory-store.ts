import type { Activity } from './activity'
import { activityMatcher as matcher } from './filter'
import { checkDeletionSubject, checkIdentityLink } from './identity-checks'
import { isExpired, resolveRetention, startRetentionJob, type ExpiryResult, type RetentionOptions } from './retention'
import type { RejectedActivity, SinkResult } from './sink'
import { checkOffset, computeStats } from './stats'
import type {
  ActivitySortKey,
  ActivityStats,
  DeletionResult,
  DeletionSubject,
  ExportQuery,
  IdentifyResult,
  IdentityLink,
  ListQuery,
  ListResult,
  StatsQuery,
  Store,
} from './store'

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /** Names the store in logs and errors. @default 'memory' */
  name?: string
  /** The clock that stamps `receivedAt`, in Unix milliseconds. @default Date.now */
  now?: () => number
  /**
   * How long after `deleteActivities` the store refuses activities of that person tracked before the
   * deletion (a queued or retried delivery arriving late), in milliseconds; activities tracked after
   * it are stored as usual. @default 2592000000 (30 days, longer than any tracker's retry window)
   */
  tombstoneMs?: number
  /**
   * Delete activities (and identity links) older than `maxAgeDays`, by the store's clock; see
   * {@link RetentionOptions}. @default undefined — every row is kept.
   */
  retention?: RetentionOptions
}

/** The store {@link memoryStore} returns. */
export interface MemoryStore extends Store {
  /** How many activities it holds. */
  readonly size: number
  identify: NonNullable<Store['identify']>
  deleteActivities: NonNullable<Store['deleteActivities']>
  /** Deletes what `retention` says is too old; rejects with a `TypeError` without `retention`. */
  expireActivities: NonNullable<Store['expireActivities']>
  /** Stops the retention job. */
  close: NonNullable<Store['close']>
}

/** An anonymous id's link to the user it signed in as. */
interface Link {
  userId: string
  /** When `identify` made it, in Unix milliseconds: retention forgets it after `maxAgeDays`. */
  linkedAt: number
}

/** A person deleted by `deleteActivities`, remembered so late deliveries cannot bring them back. */
interface Tombstone {
  /** When the deletion ran, in Unix milliseconds: activities with an earlier `timestamp` are refused. */
  deletedAt: number
}

const DEFAULT_LIMIT = 50
const MAX_LIMIT = 1000
const DEFAULT_EXPORT_PAGE_SIZE = 1000
const CURSOR_PREFIX = 'm1'

type SortValue = number | null

function sortValue(activity: Activity, sort: ActivitySortKey): SortValue {
  if (sort === 'timestamp') return Date.parse(activity.timestamp)
  if (sort === 'durationMs') return activity.durationMs ?? null
  return activity.tokenUsage?.total ?? null
}

/**
 * Orders by the sort value, then by id, both in the requested direction; a missing value sorts
 * last whichever the direction, as `NULLS LAST` does in the database stores.
 */
function compareKeys(a: SortValue, aId: string, b: SortValue, bId: string, descending: boolean): number {
  if (a !== b) {
    if (a === null) return 1
    if (b === null) return -1
    return descending ? b - a : a - b
  }
  if (aId === bId) return 0
  return (aId < bId) !== descending ? -1 : 1
}

interface Cursor {
  sort: ActivitySortKey
  descending: boolean
  value: SortValue
  id: string
}

const SORT_CODES: Record<ActivitySortKey, string> = { timestamp: 't', durationMs: 'd', tokens: 'k' }

function encodeCursor(cursor: Cursor): string {
  const value = cursor.value === null ? '' : String(cursor.value)
  return [CURSOR_PREFIX, SORT_CODES[cursor.sort], cursor.descending ? 'd' : 'a', value, cursor.id].join('~')
}

function decodeCursor(text: string, sort: ActivitySortKey, descending: boolean): Cursor {
  const parts = text.split('~')
  const [prefix, sortCode, orderCode, value, id] = parts
  if (parts.length !== 5 || prefix !== CURSOR_PREFIX || id === undefined || id.length === 0) {
    throw new RangeError('[usertracking] [memory] The cursor was not issued by this store.')
  }
  if (sortCode !== SORT_CODES[sort] || orderCode !== (descending ? 'd' : 'a')) {
    throw new RangeError('[usertracking] [memory] The cursor belongs to a query with another sort or order.')
  }
  const number = value === '' ? null : Number(value)
  if (number !== null && !Number.isFinite(number)) {
    throw new RangeError('[usertracking] [memory] The cursor was not issued by this store.')
  }
  return { sort, descending, value: number, id }
}

function clone(activity: Activity): Activity {
  return JSON.parse(JSON.stringify(activity)) as Activity
}

interface Subscription {
  matches: (activity: Activity) => boolean
  onActivities: (activities: Activity[]) => void
}

/**
 * A {@link Store} held in memory, for development, tests and demos: the same `list`, `stats` and
 * `export` semantics as the database stores (it passes the same conformance suite), plus
 * `subscribe`, `identify`, `deleteActivities` and `expireActivities`. Its sink is idempotent by id and
 * stamps `receivedAt` on activities that lack it.
 * Nothing survives a restart, and without `retention` every row is kept: bound it in long-running
 * processes.
 *
 * @param options - name, clock, tombstones and retention; see {@link MemoryStoreOptions}.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const name = options.name ?? 'memory'
  const now = options.now ?? Date.now
  const tombstoneMs = options.tombstoneMs ?? 2_592_000_000
  const retention = resolveRetention(options.retention, name)
  const rows = new Map<string, Activity>()
  const subscriptions = new Set<Subscription>()
  /** Anonymous id → the user it was linked to by `identify`. */
  const links = new Map<string, Link>()
  const deletedUsers = new Map<string, Tombstone>()
  const deletedVisitors = new Map<string, Tombstone>()

  /** Why a late delivery of a deleted person's activity is refused, or undefined to store it. */
  function tombstoned(activity: Activity, at: number): string | undefined {
    for (const [subject, tombstones] of [
      [activity.userId, deletedUsers],
      [activity.anonymousId, deletedVisitors],
    ] as const) {
      if (subject === undefined) continue
      const tombstone = tombstones.get(subject)
      if (!tombstone) continue
      if (at - tombstone.deletedAt > tombstoneMs) tombstones.delete(subject)
      else if (Date.parse(activity.timestamp) <= tombstone.deletedAt) return 'The person was deleted after this activity was tracked.'
    }
    return undefined
  }

  function select(query: ListQuery, limit: number): { items: Activity[]; nextCursor?: string } {
    const sort = query.sort ?? 'timestamp'
    const descending = (query.order ?? 'desc') === 'desc'
    const offset = checkOffset(query, name)
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, sort, descending)
    const matches = matcher(query)
    const keyed: { value: SortValue; activity: Activity }[] = []
    for (const activity of rows.values()) {
      if (!matches(activity)) continue
      const value = sortValue(activity, sort)
      if (after && compareKeys(value, activity.id, after.value, after.id, descending) <= 0) continue
      keyed.push({ value, activity })
    }
    keyed.sort((a, b) => compareKeys(a.value, a.activity.id, b.value, b.activity.id, descending))
    const page = keyed.slice(offset, offset + limit)
    const last = page[page.length - 1]
    const result: { items: Activity[]; nextCursor?: string } = { items: page.map((entry) => clone(entry.activity)) }
    if (last && keyed.length > offset + limit) {
      result.nextCursor = encodeCursor({ sort, descending, value: last.value, id: last.activity.id })
    }
    return result
  }

  function notify(written: Activity[]): void {
    for (const subscription of subscriptions) {
      const matching = written.filter(subscription.matches)
      if (matching.length === 0) continue
      try {
        subscription.onActivities(matching.map(clone))
      } catch {
        // A subscriber's failure is its own; it must not fail the write nor starve other subscribers.
      }
    }
  }

  async function expireActivities(): Promise<ExpiryResult> {
    if (!retention) throw new TypeError(`[usertracking] [${name}] expireActivities() needs options.retention ({ maxAgeDays }).`)
    const at = now()
    const cutoff = at - retention.maxAgeMs
    let deleted = 0
    for (const [id, activity] of rows) {
      if (!isExpired(activity, cutoff)) continue
      rows.delete(id)
      deleted++
    }
    for (const [anonymous, link] of links) if (link.linkedAt < cutoff) links.delete(anonymous)
    for (const tombstones of [deletedUsers, deletedVisitors]) {
      for (const [subject, tombstone] of tombstones) if (at - tombstone.deletedAt > tombstoneMs) tombstones.delete(subject)
    }
    return { deleted }
  }

  // An expiry in memory cannot fail; the console is only the job's required last resort.
  const warn = (warning: unknown) => console.warn(`[usertracking] [${name}] The retention job failed.`, warning)
  const job = retention?.runInBackground ? startRetentionJob(expireActivities, retention.intervalMs, warn) : undefined

  return {
    name,
    get size() {
      return rows.size
    },
    sink: {
      name,
      async write(batch, { signal }): Promise<SinkResult> {
        if (signal?.aborted) return { type: 'retryable', error: signal.reason }
        const at = now()
        const receivedAt = new Date(at).toISOString()
        const written: Activity[] = []
        const rejected: RejectedActivity[] = []
        for (const activity of batch) {
          if (rows.has(activity.id)) continue
          const refusal = tombstoned(activity, at)
          if (refusal) {
            rejected.push({ id: activity.id, error: refusal })
            continue
          }
          const stored = clone(activity)
          stored.receivedAt ??= receivedAt
          if (stored.userId === undefined && stored.anonymousId !== undefined) {
            const linked = links.get(stored.anonymousId)
            if (linked !== undefined) stored.userId = linked.userId
          }
          rows.set(stored.id, stored)
          written.push(stored)
        }
        if (written.length > 0) notify(written)
        return rejected.length > 0 ? { type: 'success', rejected } : { type: 'success' }
      },
    },
    async list(query: ListQuery = {}): Promise<ListResult> {
      const limit = Math.min(MAX_LIMIT, Math.max(1, Math.floor(query.limit ?? DEFAULT_LIMIT)))
      const result: ListResult = select(query, limit)
      if (query.includeTotal) {
        const matches = matcher(query)
        let total = 0
        for (const activity of rows.values()) if (matches(activity)) total++
        result.total = total
      }
      return result
    },
    async stats(query: StatsQuery = {}): Promise<ActivityStats> {
      return computeStats(rows.values(), query, name)
    },
    async identify(link: IdentityLink): Promise<IdentifyResult> {
      const { userId, anonymousId } = checkIdentityLink(link, name)
      links.set(anonymousId, { userId, linkedAt: now() })
      let linked = 0
      for (const activity of rows.values()) {
        if (activity.anonymousId === anonymousId && activity.userId === undefined) {
          activity.userId = userId
          linked++
        }
      }
      return { linked }
    },
    async deleteActivities(subject: DeletionSubject): Promise<DeletionResult> {
      const { userId, anonymousId } = checkDeletionSubject(subject, name)
      const byUser = userId !== undefined
      const deletedAt = now()
      let deleted = 0
      for (const [id, activity] of rows) {
        if (byUser ? activity.userId === userId : activity.anonymousId === anonymousId) {
          rows.delete(id)
          deleted++
        }
      }
      if (byUser) {
        // Its linked anonymous ids go too: a late delivery under one of them is still this person's.
        for (const [anonymous, linked] of links) {
          if (linked.userId !== userId) continue
          links.delete(anonymous)
          deletedVisitors.set(anonymous, { deletedAt })
        }
        deletedUsers.set(userId as string, { deletedAt })
      } else {
        links.delete(anonymousId as string)
        deletedVisitors.set(anonymousId as string, { deletedAt })
      }
      return { deleted }
    },
    async *export(query: ExportQuery = {}): AsyncIterable<Activity> {
      const pageSize = Math.max(1, Math.floor(query.pageSize ?? DEFAULT_EXPORT_PAGE_SIZE))
      const pageQuery: ListQuery = { ...query, order: query.order ?? 'asc' }
      let cursor: string | undefined
      do {
        const page = select(cursor === undefined ? pageQuery : { ...pageQuery, cursor }, pageSize)
        yield* page.items
        cursor = page.nextCursor
      } while (cursor !== undefined)
    },
    expireActivities,
    close: async () => {
      await job?.stop()
    },
    subscribe(filter, onActivities) {
      const subscription: Subscription = { matches: matcher(filter), onActivities }
      subscriptions.add(subscription)
      return () => {
        subscriptions.delete(subscription)
      }
    },
  }
}
