import {
  checkGroupBy,
  checkOffset,
  type Activity,
  type ActivitySortKey,
  type ActivityStats,
  type ExportQuery,
  type ListQuery,
  type ListResult,
  type Sink,
  type StatsBucket,
  type StatsQuery,
  type Store,
} from '@usertracking/core'
import { checkSort, filterConditions, GROUP_KEY_SQL, keysetCondition, orderSql, Params, whereSql } from './activity-query'
import { toAdapter, type PostgresClient, type Row } from './client-adapter'
import { decodeCursor, encodeCursor, type CursorPosition } from './cursor'
import { deleteSubject, linkIdentity } from './identity'
import { DEFAULT_SCHEMA, DEFAULT_TABLE, runMigrations } from './migrations'
import { unescapeText } from './nul-escape'
import { createPostgresSink } from './postgres-sink'
import { READ_COLUMNS, rowToActivity } from './rows'
import { sqlNames } from './sql-names'

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions {
  /**
   * The database: a node-postgres `Pool` (or connected `Client`), a postgres.js `sql`, or a PGlite
   * instance. The store never closes it; it belongs to the app.
   */
  client: PostgresClient
  /** The table activities live in. @default 'user_activities' */
  table?: string
  /** The schema of that table, created by `migrate()` when missing. @default 'public' */
  schema?: string
  /**
   * How long after `deleteActivities` the sink refuses activities of that person tracked before the
   * deletion (a queued or retried delivery arriving late), in milliseconds. @default 2592000000
   * (30 days, longer than any tracker's retry window)
   */
  tombstoneMs?: number
}

/** A `Store` (from `@usertracking/core`) over PostgreSQL, with the migration that creates its table. */
export interface PostgresStore extends Store {
  readonly sink: Sink
  identify: NonNullable<Store['identify']>
  deleteActivities: NonNullable<Store['deleteActivities']>
  /**
   * Creates (or upgrades) the schema, the table and its indexes. Idempotent, and safe to run from
   * several processes at once; call it at start-up, or apply sql/schema.sql yourself instead.
   */
  migrate(): Promise<void>
}

/** Default and largest page of `list`, per the {@link ListQuery} contract. */
const DEFAULT_LIMIT = 50
const MAX_LIMIT = 1000
/** Default and largest page `export` fetches at a time. */
const DEFAULT_EXPORT_PAGE = 1000
const MAX_EXPORT_PAGE = 10_000

function clamp(value: number | undefined, fallback: number, max: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback
  return Math.min(max, Math.max(1, Math.floor(value)))
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function toNumber(value: unknown): number {
  return value === null || value === undefined ? 0 : Number(value)
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value)
}

/**
 * A store over one PostgreSQL table: `sink` writes batches idempotently by id, `list` pages with an
 * opaque keyset cursor, `stats` aggregates (with per-user or per-type time buckets), and `export`
 * streams everything that matches in pages.
 *
 * @example
 * ```ts
 * const store = postgresStore({ client: new pg.Pool({ connectionString }) })
 * await store.migrate()
 * const tracker = createTracker({ sinks: [store.sink] })
 * const page = await store.list({ userId: 'u1', sort: 'tokens', limit: 20 })
 * ```
 *
 * @param options - the client, and where the table lives.
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  const adapter = toAdapter(options.client)
  const names = sqlNames(options.schema ?? DEFAULT_SCHEMA, options.table ?? DEFAULT_TABLE)
  const table = names.qualifiedTable
  const tombstoneMs = options.tombstoneMs ?? 2_592_000_000

  async function page(
    query: ListQuery,
    sort: ActivitySortKey,
    order: 'asc' | 'desc',
    limit: number,
  ): Promise<{ items: Activity[]; nextCursor?: string }> {
    const offset = checkOffset(query, 'postgres')
    const params = new Params()
    const conditions = filterConditions(query, params)
    if (query.cursor !== undefined) {
      conditions.push(keysetCondition(sort, order, decodeCursor(query.cursor, sort, order), params))
    }
    const rows = await adapter.query(
      `SELECT ${READ_COLUMNS} FROM ${table} ${whereSql(conditions)} ${orderSql(sort, order)} LIMIT ${limit + 1}${offset > 0 ? ` OFFSET ${offset}` : ''}`,
      params.values,
    )
    const items = rows.slice(0, limit).map(rowToActivity)
    if (rows.length <= limit) return { items }
    return { items, nextCursor: encodeCursor(sort, order, positionOf(rows[limit - 1]!, sort)) }
  }

  function positionOf(row: Row, sort: ActivitySortKey): CursorPosition {
    const id = String(row.activityid)
    if (sort === 'timestamp') return { value: String(row.timestampus), id }
    return { value: nullableNumber(sort === 'tokens' ? row.totaltokens : row.durationms), id }
  }

  async function count(query: ListQuery): Promise<number> {
    const params = new Params()
    const where = whereSql(filterConditions(query, params))
    const rows = await adapter.query(`SELECT count(*)::float8 AS total FROM ${table} ${where}`, params.values)
    return toNumber(rows[0]?.total)
  }

  return {
    name: 'postgres',
    sink: createPostgresSink(adapter, names, { tombstoneMs }),

    migrate: () => runMigrations(adapter, names),

    async list(query: ListQuery = {}): Promise<ListResult> {
      const sort = query.sort ?? 'timestamp'
      const order = query.order ?? 'desc'
      checkSort(sort, order)
      const limit = clamp(query.limit, DEFAULT_LIMIT, MAX_LIMIT)
      const [result, total] = await Promise.all([
        page(query, sort, order, limit),
        query.includeTotal ? count(query) : undefined,
      ])
      return total === undefined ? result : { ...result, total }
    },

    async stats(query: StatsQuery = {}): Promise<ActivityStats> {
      checkGroupBy(query.groupBy, 'postgres')
      const params = new Params()
      const where = whereSql(filterConditions(query, params))
      const numericToken = (field: string) =>
        `CASE WHEN jsonb_typeof(token_usage -> '${field}') = 'number' THEN (token_usage ->> '${field}')::float8 END`
      const costTotal = `CASE WHEN jsonb_typeof(cost -> 'total') = 'number' THEN (cost ->> 'total')::float8 END`
      const totals = adapter.query(
        `SELECT count(*)::float8 AS total, count(DISTINCT user_id)::float8 AS users,
  count(DISTINCT coalesce(user_id, anonymous_id))::float8 AS visitors, count(DISTINCT session_id)::float8 AS sessions,
  coalesce(sum(${numericToken('input')}), 0)::float8 AS input, coalesce(sum(${numericToken('output')}), 0)::float8 AS output,
  coalesce(sum(total_tokens), 0)::float8 AS tokens, coalesce(sum(${costTotal}), 0)::float8 AS cost,
  count(*) FILTER (WHERE cost -> 'unpriced' = 'true'::jsonb)::float8 AS unpriced, avg(duration_ms)::float8 AS average,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)::float8 AS median,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::float8 AS p95
FROM ${table} ${where}`,
        params.values,
      )
      const byType = adapter.query(
        `SELECT activity_type AS type, count(*)::float8 AS count, coalesce(sum(total_tokens), 0)::float8 AS tokens,
  coalesce(sum(${costTotal}), 0)::float8 AS cost
FROM ${table} ${where} GROUP BY activity_type`,
        params.values,
      )
      const groupBy = query.groupBy
      let buckets: Promise<Row[]> | undefined
      if (groupBy !== undefined) {
        const bucketParams = new Params()
        const conditions = filterConditions(query, bucketParams)
        const key = groupBy.per === undefined ? 'NULL::text' : GROUP_KEY_SQL[groupBy.per]
        if (groupBy.per !== undefined) conditions.push(`${key} IS NOT NULL`)
        const timeColumn = groupBy.on === 'receivedAt' ? 'received_at' : '"timestamp"'
        // Numeric arithmetic on epoch milliseconds: buckets start at multiples of the interval from
        // the Unix epoch, exactly, for any interval (not only those date_bin or date_trunc know).
        const bucket =
          groupBy.intervalMs === undefined
            ? 'NULL::float8'
            : `floor(extract(epoch from ${timeColumn}) * 1000 / ${bucketParams.add(groupBy.intervalMs)}::numeric)::float8`
        buckets = adapter.query(
          `SELECT ${bucket} AS bucket, ${key} AS key, count(*)::float8 AS count,
  coalesce(sum(total_tokens), 0)::float8 AS tokens, coalesce(sum(${costTotal}), 0)::float8 AS cost
FROM ${table} ${whereSql(conditions)} GROUP BY 1, 2`,
          bucketParams.values,
        )
      }
      const [[aggregate], typeRows, bucketRows] = await Promise.all([totals, byType, buckets])
      const result: ActivityStats = {
        total: toNumber(aggregate?.total),
        uniqueUsers: toNumber(aggregate?.users),
        uniqueVisitors: toNumber(aggregate?.visitors),
        sessions: toNumber(aggregate?.sessions),
        tokens: { input: toNumber(aggregate?.input), output: toNumber(aggregate?.output), total: toNumber(aggregate?.tokens) },
        cost: { total: toNumber(aggregate?.cost), currency: 'USD', unpriced: toNumber(aggregate?.unpriced) },
        duration: {
          avgMs: nullableNumber(aggregate?.average),
          p50Ms: nullableNumber(aggregate?.median),
          p95Ms: nullableNumber(aggregate?.p95),
        },
        byType: typeRows
          .map((row) => ({
            activityType: unescapeText(String(row.type)),
            count: toNumber(row.count),
            tokens: toNumber(row.tokens),
            cost: toNumber(row.cost),
          }))
          .sort((a, b) => b.count - a.count || compareText(a.activityType, b.activityType)),
      }
      if (bucketRows !== undefined && groupBy !== undefined) {
        const { intervalMs } = groupBy
        result.buckets = bucketRows
          .map((row) => {
            const bucket: StatsBucket & { index: number } = {
              index: Number(row.bucket),
              count: toNumber(row.count),
              tokens: toNumber(row.tokens),
              cost: toNumber(row.cost),
            }
            if (intervalMs !== undefined) bucket.start = new Date(bucket.index * intervalMs).toISOString()
            if (row.key !== null && row.key !== undefined) bucket.key = unescapeText(String(row.key))
            return bucket
          })
          .sort(
            intervalMs === undefined
              ? (a, b) => b.count - a.count || compareText(a.key ?? '', b.key ?? '')
              : (a, b) => a.index - b.index || compareText(a.key ?? '', b.key ?? ''),
          )
          .map(({ index: _index, ...bucket }) => bucket)
      }
      return result
    },

    identify: (link) => linkIdentity(adapter, names, link),

    deleteActivities: (subject) => deleteSubject(adapter, names, subject, tombstoneMs),

    async *export(query: ExportQuery = {}): AsyncGenerator<Activity> {
      const sort = query.sort ?? 'timestamp'
      const order = query.order ?? 'asc'
      checkSort(sort, order)
      const pageSize = clamp(query.pageSize, DEFAULT_EXPORT_PAGE, MAX_EXPORT_PAGE)
      let cursor: string | undefined
      do {
        const result = await page({ ...query, cursor }, sort, order, pageSize)
        yield* result.items
        cursor = result.nextCursor
      } while (cursor !== undefined)
    },
  }
}

