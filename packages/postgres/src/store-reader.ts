import {
  checkGroupBy,
  checkOffset,
  type Activity,
  type ActivitySortKey,
  type ActivityStats,
  type ExportQuery,
  type ListQuery,
  type ListResult,
  type StatsBucket,
  type StatsQuery,
} from '@usertracking/core'
import { checkSort, filterConditions, keysetCondition, orderSql, Params, required, whereSql } from './activity-query'
import type { PostgresAdapter, Row } from './client-adapter'
import { decodeCursor, encodeCursor, type CursorPosition } from './cursor'
import { invalidQuery } from './errors'
import type { TableShape } from './table-shape'

/** Default and largest page of `list`, per the {@link ListQuery} contract. */
const DEFAULT_LIMIT = 50
const MAX_LIMIT = 1000
/** Default and largest page `export` fetches at a time. */
const DEFAULT_EXPORT_PAGE = 1000
const MAX_EXPORT_PAGE = 10_000
/** The largest magnitude a double holds; sums beyond it are reported as it, not as Infinity. */
const MAX_DOUBLE = Number.MAX_VALUE

function clamp(value: number | undefined, fallback: number, max: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback
  return Math.min(max, Math.max(1, Math.floor(value)))
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * A figure as the database printed it (`numeric` sums have no upper bound) as a finite number:
 * beyond a double's range it is clamped, never Infinity (which JSON cannot carry).
 */
function finite(value: unknown): number | null {
  if (value === null || value === undefined) return null
  const number = Number(value)
  if (Number.isNaN(number)) return null
  return Math.min(MAX_DOUBLE, Math.max(-MAX_DOUBLE, number))
}

function toNumber(value: unknown): number {
  return finite(value) ?? 0
}

/**
 * A `double precision` value safe to aggregate: NaN (which a row written by hand may hold) is left
 * out, and ±Infinity or anything beyond `bound` is clamped to it, so no stored row can make an
 * aggregate fail with "value out of range".
 */
function boundedFloat(expression: string, bound: string): string {
  // GREATEST and LEAST skip NULLs, so NULL (no value) is kept NULL explicitly.
  return `CASE WHEN (${expression}) IS NULL OR (${expression}) = 'NaN'::float8 THEN NULL ELSE LEAST(GREATEST((${expression})::float8, -${bound}::float8), ${bound}::float8) END`
}

// Summed and averaged as `numeric`, which cannot overflow; printed as text and clamped in JavaScript.
const sumOf = (expression: string | undefined, bound = false) =>
  expression === undefined ? 'NULL::text' : `sum(${bound ? boundedFloat(expression, '1.7976931348623157e308') : expression}::numeric)::text`
// Linear interpolation (hi - lo) overflows beyond half a double's range.
const percentile = (fraction: number, expression: string | undefined) =>
  expression === undefined
    ? 'NULL::text'
    : `percentile_cont(${fraction}) WITHIN GROUP (ORDER BY ${boundedFloat(expression, '8.98846567431158e307')})::text`

/** The reads of a store (list, stats, export, and rows by id for subscribers) over one table shape. */
export interface StoreReader {
  list(query?: ListQuery): Promise<ListResult>
  stats(query?: StatsQuery): Promise<ActivityStats>
  export(query?: ExportQuery): AsyncGenerator<Activity>
  /** The activities with these ids, in that order (ids not found are skipped). */
  byIds(ids: readonly string[]): Promise<Activity[]>
}

/**
 * The reader over the table `withShape` describes (a mapped table's shape depends on its column
 * types, read from the catalog, and read again when a column is found gone). Every read is one or a
 * few statements; filters become parameters, never SQL text; figures are computed so that no stored
 * value can make them fail.
 */
export function createStoreReader(adapter: PostgresAdapter, withShape: <T>(work: (shape: TableShape) => Promise<T>) => Promise<T>): StoreReader {
  const toActivities = (shape: TableShape, rows: Row[]) => Promise.all(rows.map((row) => shape.toActivity(row)))

  function positionOf(shape: TableShape, row: Row, sort: ActivitySortKey): CursorPosition {
    const aliases = shape.positionAliases
    const id = String(row[aliases.tieBreaker])
    if (sort === 'timestamp') return { value: String(row[aliases.timestampMicros]), id }
    return { value: finite(sort === 'tokens' ? row[aliases.totalTokens] : row[aliases.durationMs]), id }
  }

  async function page(shape: TableShape, query: ListQuery, sort: ActivitySortKey, order: 'asc' | 'desc', limit: number): Promise<{ items: Activity[]; nextCursor?: string }> {
    const offset = checkOffset(query, 'postgres')
    const params = new Params()
    const conditions = await filterConditions(shape, query, params)
    if (query.cursor !== undefined) {
      const position = decodeCursor(query.cursor, sort, order, shape.tieBreaker.accepts)
      conditions.push(keysetCondition(shape, sort, order, position, params))
    }
    const rows = await adapter.query(
      `SELECT ${shape.selectList} FROM ${shape.qualifiedTable} ${whereSql(conditions)} ${orderSql(shape, sort, order)} LIMIT ${limit + 1}${offset > 0 ? ` OFFSET ${offset}` : ''}`,
      params.values,
    )
    const items = await toActivities(shape, rows.slice(0, limit))
    if (rows.length <= limit) return { items }
    return { items, nextCursor: encodeCursor(sort, order, positionOf(shape, rows[limit - 1]!, sort)) }
  }

  async function count(shape: TableShape, query: ListQuery): Promise<number> {
    const params = new Params()
    const where = whereSql(await filterConditions(shape, query, params))
    const rows = await adapter.query(`SELECT count(*)::float8 AS total FROM ${shape.qualifiedTable} ${where}`, params.values)
    return toNumber(rows[0]?.total)
  }

  async function stats(query: StatsQuery = {}): Promise<ActivityStats> {
    checkGroupBy(query.groupBy, 'postgres')
    if (query.groupBy?.intervalMs !== undefined && query.groupBy.intervalMs < 1) {
      // Finer than the millisecond a timestamp holds, the bucket numbers overflow a double.
      throw invalidQuery('groupBy.intervalMs must be at least 1 millisecond.')
    }
    return withShape((shape) => statsOver(shape, query))
  }

  async function statsOver(shape: TableShape, query: StatsQuery): Promise<ActivityStats> {
    const groupBy = query.groupBy
    const table = shape.qualifiedTable
    const params = new Params()
    const where = whereSql(await filterConditions(shape, query, params))
    const user = shape.groupKeys.user ?? 'NULL::text'
    const visitor = shape.groupKeys.visitor ?? 'NULL::text'
    const session = shape.equality.sessionId ?? 'NULL::text'
    const unpriced = shape.costUnpriced === undefined ? '0' : `count(*) FILTER (WHERE ${shape.costUnpriced})`
    const totals = `SELECT count(*)::float8 AS total, count(DISTINCT ${user})::float8 AS users,
  count(DISTINCT ${visitor})::float8 AS visitors, count(DISTINCT ${session})::float8 AS sessions,
  ${sumOf(shape.inputTokens)} AS input, ${sumOf(shape.outputTokens)} AS output,
  ${sumOf(shape.totalTokens, true)} AS tokens, ${sumOf(shape.costTotal)} AS cost,
  ${unpriced}::float8 AS unpriced,
  ${shape.durationMs === undefined ? 'NULL::text' : `avg(${boundedFloat(shape.durationMs, '1.7976931348623157e308')}::numeric)::text`} AS average,
  ${percentile(0.5, shape.durationMs)} AS median, ${percentile(0.95, shape.durationMs)} AS p95
FROM ${table} ${where}`
    const type = required(shape.groupKeys.activityType, 'activityType')
    const byType = `SELECT ${type}::text AS type, count(*)::float8 AS count, ${sumOf(shape.totalTokens, true)} AS tokens, ${sumOf(shape.costTotal)} AS cost
FROM ${table} ${where} GROUP BY 1`
    let buckets: { text: string; values: unknown[] } | undefined
    if (groupBy !== undefined) {
      const bucketParams = new Params()
      const conditions = await filterConditions(shape, query, bucketParams)
      const key = groupBy.per === undefined ? 'NULL::text' : required(shape.groupKeys[groupBy.per], `groupBy.per ${groupBy.per}`)
      if (groupBy.per !== undefined) conditions.push(`${key} IS NOT NULL`)
      const time = groupBy.on === 'receivedAt' ? required(shape.receivedAt, 'groupBy.on receivedAt') : shape.timestamp
      // Numeric arithmetic on epoch milliseconds: buckets start at multiples of the interval from
      // the Unix epoch, exactly, for any interval (not only those date_bin or date_trunc know).
      const bucket =
        groupBy.intervalMs === undefined
          ? 'NULL::float8'
          : `floor(extract(epoch from ${time}) * 1000 / ${bucketParams.add(groupBy.intervalMs)}::numeric)::float8`
      buckets = {
        text: `SELECT ${bucket} AS bucket, ${key} AS key, count(*)::float8 AS count, ${sumOf(shape.totalTokens, true)} AS tokens, ${sumOf(shape.costTotal)} AS cost
FROM ${table} ${whereSql(conditions)} GROUP BY 1, 2`,
        values: bucketParams.values,
      }
    }
    // Every statement is built (and the query refused, if it must be) before any is sent: a
    // statement sent and then left behind by a refusal would fail later with nobody to hear it.
    const [[aggregate], typeRows, bucketRows] = await Promise.all([
      adapter.query(totals, params.values),
      adapter.query(byType, params.values),
      buckets && adapter.query(buckets.text, buckets.values),
    ])
    const result: ActivityStats = {
      total: toNumber(aggregate?.total),
      uniqueUsers: toNumber(aggregate?.users),
      uniqueVisitors: toNumber(aggregate?.visitors),
      sessions: toNumber(aggregate?.sessions),
      tokens: { input: toNumber(aggregate?.input), output: toNumber(aggregate?.output), total: toNumber(aggregate?.tokens) },
      cost: { total: toNumber(aggregate?.cost), currency: 'USD', unpriced: toNumber(aggregate?.unpriced) },
      duration: { avgMs: finite(aggregate?.average), p50Ms: finite(aggregate?.median), p95Ms: finite(aggregate?.p95) },
      byType: (
        await Promise.all(
          typeRows.map(async (row) => ({
            activityType: await shape.groupKeyValue('activityType', String(row.type)),
            count: toNumber(row.count),
            tokens: toNumber(row.tokens),
            cost: toNumber(row.cost),
          })),
        )
      ).sort((a, b) => b.count - a.count || compareText(a.activityType, b.activityType)),
    }
    if (bucketRows !== undefined && groupBy !== undefined) {
      const { intervalMs, per } = groupBy
      const list = await Promise.all(
        bucketRows.map(async (row) => {
          const entry: StatsBucket & { index: number } = {
            index: Number(row.bucket),
            count: toNumber(row.count),
            tokens: toNumber(row.tokens),
            cost: toNumber(row.cost),
          }
          if (intervalMs !== undefined) entry.start = new Date(entry.index * intervalMs).toISOString()
          if (per !== undefined && row.key !== null && row.key !== undefined) entry.key = await shape.groupKeyValue(per, String(row.key))
          return entry
        }),
      )
      result.buckets = list
        .sort(
          intervalMs === undefined
            ? (a, b) => b.count - a.count || compareText(a.key ?? '', b.key ?? '')
            : (a, b) => a.index - b.index || compareText(a.key ?? '', b.key ?? ''),
        )
        .map(({ index: _index, ...entry }) => entry)
    }
    return result
  }

  return {
    list(query: ListQuery = {}): Promise<ListResult> {
      const sort = query.sort ?? 'timestamp'
      const order = query.order ?? 'desc'
      const limit = clamp(query.limit, DEFAULT_LIMIT, MAX_LIMIT)
      return withShape(async (shape) => {
        checkSort(shape, sort, order)
        const [result, total] = await Promise.all([page(shape, query, sort, order, limit), query.includeTotal ? count(shape, query) : undefined])
        return total === undefined ? result : { ...result, total }
      })
    },

    stats,

    async *export(query: ExportQuery = {}): AsyncGenerator<Activity> {
      const sort = query.sort ?? 'timestamp'
      const order = query.order ?? 'asc'
      const pageSize = clamp(query.pageSize, DEFAULT_EXPORT_PAGE, MAX_EXPORT_PAGE)
      let cursor: string | undefined
      do {
        const after = cursor
        const result = await withShape((shape) => {
          checkSort(shape, sort, order)
          return page(shape, { ...query, cursor: after }, sort, order, pageSize)
        })
        yield* result.items
        cursor = result.nextCursor
      } while (cursor !== undefined)
    },

    async byIds(ids: readonly string[]): Promise<Activity[]> {
      if (ids.length === 0) return []
      return withShape(async (shape) => {
        const id = shape.activityId
        if (id === undefined) return []
        const rows = await adapter.query(
          `SELECT ${shape.selectList}, ${id.sql}::text AS ut_notified_id FROM ${shape.qualifiedTable} WHERE ${id.sql} = ANY($1${id.arrayCast})`,
          [[...ids]],
        )
        // UUIDs print in lower case whatever case they were written in.
        const position = (value: unknown) => order.get(String(value).toLowerCase()) ?? 0
        const order = new Map(ids.map((value, index) => [value.toLowerCase(), index]))
        rows.sort((a, b) => position(a.ut_notified_id) - position(b.ut_notified_id))
        return toActivities(shape, rows)
      })
    },
  }
}
