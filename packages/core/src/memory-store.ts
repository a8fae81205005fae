import type { Activity } from './activity'
import { activityMatcher as matcher } from './filter'
import type { SinkResult } from './sink'
import type {
  ActivitySortKey,
  ActivityStats,
  ExportQuery,
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

/** Linear interpolation between the closest ranks, as PostgreSQL's `percentile_cont`. */
function percentile(sorted: number[], fraction: number): number {
  const rank = fraction * (sorted.length - 1)
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low)
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
 * `subscribe`. Its sink is idempotent by id and stamps `receivedAt` on activities that lack it.
 * Nothing survives a restart, and every row is kept: bound it yourself in long-running processes.
 *
 * @param options - name and clock; see {@link MemoryStoreOptions}.
 */
export function memoryStore(options: MemoryStoreOptions = {}): Store & { readonly size: number } {
  const name = options.name ?? 'memory'
  const now = options.now ?? Date.now
  const rows = new Map<string, Activity>()
  const subscriptions = new Set<Subscription>()

  function select(query: ListQuery, limit: number): { items: Activity[]; nextCursor?: string } {
    const sort = query.sort ?? 'timestamp'
    const descending = (query.order ?? 'desc') === 'desc'
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
    const page = keyed.slice(0, limit)
    const last = page[page.length - 1]
    const result: { items: Activity[]; nextCursor?: string } = { items: page.map((entry) => clone(entry.activity)) }
    if (last && keyed.length > limit) {
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

  return {
    name,
    get size() {
      return rows.size
    },
    sink: {
      name,
      async write(batch, { signal }): Promise<SinkResult> {
        if (signal?.aborted) return { type: 'retryable', error: signal.reason }
        const receivedAt = new Date(now()).toISOString()
        const written: Activity[] = []
        for (const activity of batch) {
          if (rows.has(activity.id)) continue
          const stored = clone(activity)
          stored.receivedAt ??= receivedAt
          rows.set(stored.id, stored)
          written.push(stored)
        }
        if (written.length > 0) notify(written)
        return { type: 'success' }
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
      const matches = matcher(query)
      const users = new Set<string>()
      const tokens = { input: 0, output: 0, total: 0 }
      const durations: number[] = []
      const types = new Map<string, { count: number; tokens: number }>()
      const buckets = new Map<string, { start: number; key?: string; count: number }>()
      const interval = query.groupBy?.intervalMs
      if (interval !== undefined && !(Number.isFinite(interval) && interval > 0)) {
        throw new RangeError('[usertracking] [memory] groupBy.intervalMs must be a positive number of milliseconds.')
      }
      let total = 0
      for (const activity of rows.values()) {
        if (!matches(activity)) continue
        total++
        if (activity.userId !== undefined) users.add(activity.userId)
        const usage = activity.tokenUsage
        if (usage) {
          tokens.input += usage.input ?? 0
          tokens.output += usage.output ?? 0
          tokens.total += usage.total
        }
        if (activity.durationMs !== undefined) durations.push(activity.durationMs)
        const type = types.get(activity.activityType) ?? { count: 0, tokens: 0 }
        type.count++
        type.tokens += usage?.total ?? 0
        types.set(activity.activityType, type)
        if (interval !== undefined) {
          const start = Math.floor(Date.parse(activity.timestamp) / interval) * interval
          const per = query.groupBy?.per
          const key = per === 'user' ? activity.userId : per === 'activityType' ? activity.activityType : undefined
          const id = `${start}\u0000${key ?? ''}\u0000${key === undefined ? 0 : 1}`
          const bucket = buckets.get(id) ?? (key === undefined ? { start, count: 0 } : { start, key, count: 0 })
          bucket.count++
          buckets.set(id, bucket)
        }
      }
      durations.sort((a, b) => a - b)
      const stats: ActivityStats = {
        total,
        uniqueUsers: users.size,
        tokens,
        duration:
          durations.length === 0
            ? { avgMs: null, p50Ms: null, p95Ms: null }
            : {
                avgMs: durations.reduce((sum, value) => sum + value, 0) / durations.length,
                p50Ms: percentile(durations, 0.5),
                p95Ms: percentile(durations, 0.95),
              },
        byType: [...types]
          .map(([activityType, entry]) => ({ activityType, count: entry.count, tokens: entry.tokens }))
          .sort((a, b) => b.count - a.count || (a.activityType < b.activityType ? -1 : a.activityType > b.activityType ? 1 : 0)),
      }
      if (interval !== undefined) {
        stats.buckets = [...buckets.values()]
          .sort((a, b) => a.start - b.start || ((a.key ?? '') < (b.key ?? '') ? -1 : (a.key ?? '') > (b.key ?? '') ? 1 : 0))
          .map((bucket) => ({ ...bucket, start: new Date(bucket.start).toISOString() }))
      }
      return stats
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
    subscribe(filter, onActivities) {
      const subscription: Subscription = { matches: matcher(filter), onActivities }
      subscriptions.add(subscription)
      return () => {
        subscriptions.delete(subscription)
      }
    },
  }
}
