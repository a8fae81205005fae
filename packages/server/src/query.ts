import type { ActivityFilter, ActivitySortKey, ExportQuery, ListQuery, StatsQuery } from '@usertracking/core'

/** One problem with a query parameter, in the same shape as a body validation issue. */
export interface QueryIssue {
  path: string[]
  message: string
}

/** A parsed query, or every problem found in it. */
export type QueryResult<T> = { ok: true; query: T } | { ok: false; issues: QueryIssue[] }

const SORT_KEYS: readonly ActivitySortKey[] = ['timestamp', 'durationMs', 'tokens']
const MAX_PARAM_LENGTH = 1024
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

class Params {
  readonly issues: QueryIssue[] = []
  constructor(private readonly search: URLSearchParams) {}

  /** The first of `names` present; later names are aliases the apps already send (`user_id`). */
  string(...names: string[]): string | undefined {
    for (const name of names) {
      const value = this.search.get(name)
      if (value === null || value === '') continue
      if (value.length > MAX_PARAM_LENGTH) {
        this.issues.push({ path: ['query', name], message: `Expected at most ${MAX_PARAM_LENGTH} characters.` })
        return undefined
      }
      return value
    }
    return undefined
  }

  all(name: string): string[] {
    return this.search.getAll(name).filter((value) => value !== '')
  }

  number(name: string, check: (value: number) => boolean, message: string): number | undefined {
    const text = this.string(name)
    if (text === undefined) return undefined
    const value = Number(text)
    if (!Number.isFinite(value) || !check(value)) {
      this.issues.push({ path: ['query', name], message })
      return undefined
    }
    return value
  }

  time(name: string): string | undefined {
    const text = this.string(name)
    if (text === undefined) return undefined
    const ms = /^-?\d+$/.test(text) ? Number(text) : Date.parse(text)
    if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
      this.issues.push({ path: ['query', name], message: 'Expected an ISO 8601 date or epoch milliseconds.' })
      return undefined
    }
    return new Date(ms).toISOString()
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const text = this.string(name)
    if (text === undefined) return undefined
    if ((values as readonly string[]).includes(text)) return text as T
    this.issues.push({ path: ['query', name], message: `Expected one of ${values.join(', ')}.` })
    return undefined
  }

  duration(name: string, minMs: number): number | undefined {
    const text = this.string(name)
    if (text === undefined) return undefined
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(text)
    const ms = match ? Number(match[1]) * UNIT_MS[match[2] ?? 'ms']! : Number.NaN
    if (!Number.isFinite(ms) || ms < minMs || ms > 366 * UNIT_MS.d!) {
      this.issues.push({ path: ['query', name], message: `Expected a duration such as 15m, 4h or 1d, of at least ${minMs} ms and at most a year.` })
      return undefined
    }
    return ms
  }

  result<T>(query: T): QueryResult<T> {
    return this.issues.length > 0 ? { ok: false, issues: this.issues } : { ok: true, query }
  }
}

function readFilter(params: Params): ActivityFilter {
  const filter: ActivityFilter = {}
  const userId = params.string('userId', 'user_id')
  if (userId !== undefined) filter.userId = userId
  const types = [...params.all('activityType'), ...params.all('type'), ...params.all('action')]
  if (types.length > 0) filter.activityType = types.length === 1 ? types[0]! : types
  const from = params.time('from')
  if (from !== undefined) filter.from = from
  const to = params.time('to')
  if (to !== undefined) filter.to = to
  const nonNegative = (value: number) => value >= 0
  const minTokens = params.number('minTokens', nonNegative, 'Expected a number of at least 0.')
  if (minTokens !== undefined) filter.minTokens = minTokens
  const maxTokens = params.number('maxTokens', nonNegative, 'Expected a number of at least 0.')
  if (maxTokens !== undefined) filter.maxTokens = maxTokens
  const status = params.oneOf('status', ['success', 'error'] as const)
  if (status !== undefined) filter.status = status
  return filter
}

function readOrder(params: Params): { sort?: ActivitySortKey; order?: 'asc' | 'desc' } {
  const result: { sort?: ActivitySortKey; order?: 'asc' | 'desc' } = {}
  const sort = params.oneOf('sort', SORT_KEYS)
  if (sort !== undefined) result.sort = sort
  const order = params.oneOf('order', ['asc', 'desc'] as const)
  if (order !== undefined) result.order = order
  return result
}

/** The filter of a live stream: `from` / `to` and sorting do not apply to activities yet to come. */
export function parseStreamQuery(search: URLSearchParams): QueryResult<ActivityFilter> {
  const params = new Params(search)
  const filter = readFilter(params)
  return params.result(filter)
}

/** `GET …/activities`: the filter, `sort`, `order`, `limit` (1–1000), `cursor` and `includeTotal`. */
export function parseListQuery(search: URLSearchParams): QueryResult<ListQuery> {
  const params = new Params(search)
  const query: ListQuery = { ...readFilter(params), ...readOrder(params) }
  const limit = params.number('limit', (value) => Number.isInteger(value) && value >= 1 && value <= 1000, 'Expected a whole number from 1 to 1000.')
  if (limit !== undefined) query.limit = limit
  const cursor = params.string('cursor')
  if (cursor !== undefined) query.cursor = cursor
  const includeTotal = params.oneOf('includeTotal', ['true', 'false', '1', '0'] as const)
  if (includeTotal === 'true' || includeTotal === '1') query.includeTotal = true
  return params.result(query)
}

/** `GET …/activities/stats`: the filter, `interval` / `per` for buckets, and the `recent` window. */
export function parseStatsQuery(search: URLSearchParams, defaultRecentMs: number): QueryResult<{ stats: StatsQuery; recentMs: number }> {
  const params = new Params(search)
  const stats: StatsQuery = readFilter(params)
  // A floor of one minute keeps a bucketed query over months from producing millions of buckets.
  const intervalMs = params.duration('interval', 60_000)
  const per = params.oneOf('per', ['user', 'activityType'] as const)
  if (intervalMs !== undefined) stats.groupBy = per ? { intervalMs, per } : { intervalMs }
  else if (per !== undefined) params.issues.push({ path: ['query', 'per'], message: 'Only applies together with interval.' })
  const recentMs = params.duration('recent', 1000) ?? defaultRecentMs
  return params.result({ stats, recentMs })
}

/** Export formats. */
export type ExportFormat = 'csv' | 'json' | 'ndjson'

/** `GET …/activities/export`: the filter, `sort`, `order` and `format`. */
export function parseExportQuery(search: URLSearchParams): QueryResult<{ export: ExportQuery; format: ExportFormat }> {
  const params = new Params(search)
  const query: ExportQuery = { ...readFilter(params), ...readOrder(params) }
  const format = params.oneOf('format', ['csv', 'json', 'ndjson'] as const) ?? 'json'
  return params.result({ export: query, format })
}
