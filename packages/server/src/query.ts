import type { ActivityFilter, ActivitySortKey, ExportQuery, ListQuery, StatsQuery } from '@usertracking/core'
import type { HttpIssue } from './errors'

/** A parsed query, or every problem found in it. */
export type QueryResult<T> = { ok: true; query: T } | { ok: false; issues: HttpIssue[] }

const SORT_KEYS: readonly ActivitySortKey[] = ['timestamp', 'durationMs', 'tokens']
const MAX_PARAM_LENGTH = 1024
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/**
 * The instants a time parameter may name: years 1 to 9999, what every store can hold (PostgreSQL's
 * `timestamptz` stops at 4713 BC and 294276 AD, Firestore at years 1 and 9999) and what ISO 8601
 * writes without an expanded year.
 */
const MIN_TIME_MS = new Date('0001-01-01T00:00:00.000Z').getTime()
const MAX_TIME_MS = new Date('9999-12-31T23:59:59.999Z').getTime()

/** Deepest page a page-number list may ask for, in rows skipped; further on, the cursor serves. */
export const MAX_OFFSET = 100_000

/** Page size of a page-number list without `per_page`, as story 4's admin list expects. */
const DEFAULT_PER_PAGE = 50

/** Query parameters, read once each; what no reader asked for is reported as unknown. */
class Params {
  readonly issues: HttpIssue[] = []
  private readonly known = new Set<string>()
  constructor(private readonly search: URLSearchParams) {}

  /** The first of `names` present; later names are aliases the apps already send (`user_id`). */
  string(...names: string[]): string | undefined {
    for (const name of names) this.known.add(name)
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

  all(...names: string[]): string[] {
    for (const name of names) this.known.add(name)
    return names.flatMap((name) => this.search.getAll(name).filter((value) => value !== ''))
  }

  has(name: string): boolean {
    return this.search.has(name)
  }

  /** Marks names as known without reading them (read by someone else, such as `lastEventId`). */
  allow(...names: string[]): void {
    for (const name of names) this.known.add(name)
  }

  number(name: string | string[], check: (value: number) => boolean, message: string): number | undefined {
    const names = typeof name === 'string' ? [name] : name
    const text = this.string(...names)
    if (text === undefined) return undefined
    const value = Number(text)
    if (!Number.isFinite(value) || !check(value)) {
      this.issues.push({ path: ['query', names.find((each) => this.search.has(each))!], message })
      return undefined
    }
    return value
  }

  time(name: string): string | undefined {
    const text = this.string(name)
    if (text === undefined) return undefined
    const ms = /^-?\d+$/.test(text) ? Number(text) : Date.parse(text)
    if (!(ms >= MIN_TIME_MS && ms <= MAX_TIME_MS)) {
      this.issues.push({ path: ['query', name], message: 'Expected an ISO 8601 date or epoch milliseconds, from year 1 to year 9999.' })
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

  /** The query, or every issue, unknown parameters included (`?page=2` on a route without pages must not quietly return page 1). */
  result<T>(query: T): QueryResult<T> {
    for (const name of new Set(this.search.keys())) {
      if (!this.known.has(name)) {
        this.issues.push({ path: ['query', name], message: `Unknown query parameter; this route reads ${[...this.known].sort().join(', ')}.` })
      }
    }
    return this.issues.length > 0 ? { ok: false, issues: this.issues } : { ok: true, query }
  }
}

function readFilter(params: Params): ActivityFilter {
  const filter: ActivityFilter = {}
  const userId = params.string('userId', 'user_id')
  if (userId !== undefined) filter.userId = userId
  const types = params.all('activityType', 'type', 'action', 'action_type')
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
  params.allow('lastEventId')
  return params.result(filter)
}

/** How a list pages: by cursor (`{ items, nextCursor }`), or by page number (`{ items, total, page, perPage, pages }`). */
export type Pagination = 'cursor' | 'page'

/** A parsed list request: the store query, and the page asked for in page-number mode. */
export interface ListRequest {
  query: ListQuery
  /** Present in page-number mode. */
  page?: { page: number; perPage: number }
}

/**
 * `GET …/activities`: the filter, `sort`, `order`, and either `limit` (1–1000), `cursor` and
 * `includeTotal`, or `page` and `per_page` (alias `perPage`) — the latter whenever either is
 * given, or always when `pagination` is `'page'`.
 */
export function parseListQuery(search: URLSearchParams, pagination: Pagination = 'cursor'): QueryResult<ListRequest> {
  const params = new Params(search)
  const query: ListQuery = { ...readFilter(params), ...readOrder(params) }
  const wholeFrom = (min: number, max: number) => (value: number) => Number.isInteger(value) && value >= min && value <= max
  const pageMode = pagination === 'page' || params.has('page') || params.has('per_page') || params.has('perPage')
  const limit = params.number('limit', wholeFrom(1, 1000), 'Expected a whole number from 1 to 1000.')
  const cursor = params.string('cursor')
  const includeTotal = params.oneOf('includeTotal', ['true', 'false', '1', '0'] as const)
  const perPage = params.number(['per_page', 'perPage'], wholeFrom(1, 1000), 'Expected a whole number from 1 to 1000.') ?? DEFAULT_PER_PAGE
  const maxPage = Math.floor(MAX_OFFSET / perPage) + 1
  const page = params.number('page', wholeFrom(1, maxPage), `Expected a whole number from 1 to ${maxPage} (deeper pages: use the cursor).`) ?? 1
  if (!pageMode) {
    if (limit !== undefined) query.limit = limit
    if (cursor !== undefined) query.cursor = cursor
    if (includeTotal === 'true' || includeTotal === '1') query.includeTotal = true
    return params.result({ query })
  }
  for (const name of ['limit', 'cursor', 'includeTotal'] as const) {
    if (params.has(name)) params.issues.push({ path: ['query', name], message: 'Does not apply to page-number pagination (page, per_page).' })
  }
  Object.assign(query, { limit: perPage, offset: (page - 1) * perPage, includeTotal: true })
  return params.result({ query, page: { page, perPage } })
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
