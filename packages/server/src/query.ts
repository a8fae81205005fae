import {
  MAX_LIST_OFFSET,
  type ActivityFilter,
  type ActivitySortKey,
  type ExportQuery,
  type ListQuery,
  type StatsGroupKey,
  type StatsQuery,
} from '@usertracking/core'
import type { HttpIssue } from './errors'

/** A parsed query, or every problem found in it. */
export type QueryResult<T> = { ok: true; query: T } | { ok: false; issues: HttpIssue[] }

const SORT_KEYS: readonly ActivitySortKey[] = ['timestamp', 'durationMs', 'tokens']
const GROUP_KEYS: readonly StatsGroupKey[] = ['user', 'visitor', 'activityType', 'page', 'host']
const MAX_PARAM_LENGTH = 1024
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/**
 * Which time `from` / `to` filter on and stats buckets use unless `on` says otherwise: when the
 * user acted (`timestamp`) or when the server received the activity (`receivedAt`).
 */
export type TimeAxis = 'timestamp' | 'receivedAt'

/** How a handler reads query parameters; see `ActivityHandlerOptions`. */
export interface QueryOptions {
  timeAxis: TimeAxis
  /** The app's parameter names → the handler's (`{ user_id: 'anonymousId' }`). */
  aliases: Readonly<Record<string, string>>
}

/**
 * The instants a time parameter may name: years 1 to 9999, what every store can hold (PostgreSQL's
 * `timestamptz` stops at 4713 BC and 294276 AD, Firestore at years 1 and 9999) and what ISO 8601
 * writes without an expanded year.
 */
const MIN_TIME_MS = new Date('0001-01-01T00:00:00.000Z').getTime()
const MAX_TIME_MS = new Date('9999-12-31T23:59:59.999Z').getTime()

/** Page size of a page-number list without `per_page`, as story 4's admin list expects. */
const DEFAULT_PER_PAGE = 50

/** Query parameters, read once each; what no reader asked for is reported as unknown. */
class Params {
  readonly issues: HttpIssue[] = []
  private readonly known = new Set<string>()
  private readonly search = new URLSearchParams()
  /** The handler's name of a renamed parameter → the name the client sent, for issue paths. */
  private readonly sentAs = new Map<string, string>()

  constructor(
    search: URLSearchParams,
    readonly options: QueryOptions,
  ) {
    for (const [name, value] of search) {
      const renamed = Object.hasOwn(options.aliases, name) ? options.aliases[name]! : name
      if (renamed !== name) this.sentAs.set(renamed, name)
      this.search.append(renamed, value)
    }
  }

  /** An issue about `name`, named as the client sent it. */
  issue(name: string, message: string): void {
    this.issues.push({ path: ['query', this.sentAs.get(name) ?? name], message })
  }

  /** The first of `names` present; later names are aliases the apps already send (`user_id`). */
  string(...names: string[]): string | undefined {
    for (const name of names) this.known.add(name)
    for (const name of names) {
      const value = this.search.get(name)
      if (value === null || value === '') continue
      if (value.length > MAX_PARAM_LENGTH) {
        this.issue(name, `Expected at most ${MAX_PARAM_LENGTH} characters.`)
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
      this.issue(names.find((each) => this.search.has(each))!, message)
      return undefined
    }
    return value
  }

  time(name: string): string | undefined {
    const text = this.string(name)
    if (text === undefined) return undefined
    const ms = /^-?\d+$/.test(text) ? Number(text) : Date.parse(text)
    if (!(ms >= MIN_TIME_MS && ms <= MAX_TIME_MS)) {
      this.issue(name, 'Expected an ISO 8601 date or epoch milliseconds, from year 1 to year 9999.')
      return undefined
    }
    return new Date(ms).toISOString()
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const text = this.string(name)
    if (text === undefined) return undefined
    if ((values as readonly string[]).includes(text)) return text as T
    this.issue(name, `Expected one of ${values.join(', ')}.`)
    return undefined
  }

  duration(name: string, minMs: number): number | undefined {
    const text = this.string(name)
    if (text === undefined) return undefined
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(text)
    const ms = match ? Number(match[1]) * UNIT_MS[match[2] ?? 'ms']! : Number.NaN
    if (!Number.isFinite(ms) || ms < minMs || ms > 366 * UNIT_MS.d!) {
      this.issue(name, `Expected a duration such as 15m, 4h or 1d, of at least ${minMs} ms and at most a year.`)
      return undefined
    }
    return ms
  }

  /** The query, or every issue, unknown parameters included (`?page=2` on a route without pages must not quietly return page 1). */
  result<T>(query: T): QueryResult<T> {
    for (const name of new Set(this.search.keys())) {
      if (!this.known.has(name)) this.issue(name, `Unknown query parameter; this route reads ${[...this.known].sort().join(', ')}.`)
    }
    return this.issues.length > 0 ? { ok: false, issues: this.issues } : { ok: true, query }
  }
}

function readFilter(params: Params): ActivityFilter {
  const filter: ActivityFilter = {}
  const userId = params.string('userId', 'user_id')
  if (userId !== undefined) filter.userId = userId
  const anonymousId = params.string('anonymousId')
  if (anonymousId !== undefined) filter.anonymousId = anonymousId
  const sessionId = params.string('sessionId', 'session_id')
  if (sessionId !== undefined) filter.sessionId = sessionId
  const types = params.all('activityType', 'type', 'action', 'action_type')
  if (types.length > 0) filter.activityType = types.length === 1 ? types[0]! : types
  // `from` / `to` follow the handler's time axis; the explicit names always mean what they say.
  const received = params.options.timeAxis === 'receivedAt'
  const times: [string, 'from' | 'to' | 'receivedFrom' | 'receivedTo'][] = [
    ['from', received ? 'receivedFrom' : 'from'],
    ['to', received ? 'receivedTo' : 'to'],
    ['receivedFrom', 'receivedFrom'],
    ['receivedTo', 'receivedTo'],
  ]
  for (const [name, field] of times) {
    const value = params.time(name)
    if (value === undefined) continue
    if (filter[field] !== undefined) params.issue(name, `Names the same bound as another parameter (${field}).`)
    filter[field] = value
  }
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
export function parseStreamQuery(search: URLSearchParams, options: QueryOptions): QueryResult<ActivityFilter> {
  const params = new Params(search, options)
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
export function parseListQuery(search: URLSearchParams, options: QueryOptions & { pagination: Pagination }): QueryResult<ListRequest> {
  const params = new Params(search, options)
  const query: ListQuery = { ...readFilter(params), ...readOrder(params) }
  const wholeFrom = (min: number, max: number) => (value: number) => Number.isInteger(value) && value >= min && value <= max
  const pageMode = options.pagination === 'page' || params.has('page') || params.has('per_page') || params.has('perPage')
  const limit = params.number('limit', wholeFrom(1, 1000), 'Expected a whole number from 1 to 1000.')
  const cursor = params.string('cursor')
  const includeTotal = params.oneOf('includeTotal', ['true', 'false', '1', '0'] as const)
  const perPage = params.number(['per_page', 'perPage'], wholeFrom(1, 1000), 'Expected a whole number from 1 to 1000.') ?? DEFAULT_PER_PAGE
  const maxPage = Math.floor(MAX_LIST_OFFSET / perPage) + 1
  const page = params.number('page', wholeFrom(1, maxPage), `Expected a whole number from 1 to ${maxPage} (deeper pages: use the cursor).`) ?? 1
  if (!pageMode) {
    if (limit !== undefined) query.limit = limit
    if (cursor !== undefined) query.cursor = cursor
    if (includeTotal === 'true' || includeTotal === '1') query.includeTotal = true
    return params.result({ query })
  }
  for (const name of ['limit', 'cursor', 'includeTotal'] as const) {
    if (params.has(name)) params.issue(name, 'Does not apply to page-number pagination (page, per_page).')
  }
  query.limit = perPage
  query.offset = (page - 1) * perPage
  query.includeTotal = true
  return params.result({ query, page: { page, perPage } })
}

/**
 * `GET …/activities/stats`: the filter, buckets by `interval` and / or `per`
 * (`user|visitor|activityType|page|host`) on the time `on` names (`timestamp|receivedAt`, the
 * handler's time axis by default), and the `recent` window.
 */
export function parseStatsQuery(search: URLSearchParams, options: QueryOptions & { recentWindowMs: number }): QueryResult<{ stats: StatsQuery; recentMs: number }> {
  const params = new Params(search, options)
  const stats: StatsQuery = readFilter(params)
  // A floor of one minute keeps a bucketed query over months from producing millions of buckets.
  const intervalMs = params.duration('interval', 60_000)
  const per = params.oneOf('per', GROUP_KEYS)
  const on = params.oneOf('on', ['timestamp', 'receivedAt'] as const)
  if (intervalMs !== undefined || per !== undefined) {
    stats.groupBy = {}
    if (intervalMs !== undefined) stats.groupBy.intervalMs = intervalMs
    if (per !== undefined) stats.groupBy.per = per
    const axis = on ?? options.timeAxis
    if (axis !== 'timestamp') stats.groupBy.on = axis
  } else if (on !== undefined) params.issue('on', 'Only applies together with interval or per.')
  const recentMs = params.duration('recent', 1000) ?? options.recentWindowMs
  return params.result({ stats, recentMs })
}

/** Export formats. */
export type ExportFormat = 'csv' | 'json' | 'ndjson'

/** `GET …/activities/export`: the filter, `sort`, `order` and `format`. */
export function parseExportQuery(search: URLSearchParams, options: QueryOptions): QueryResult<{ export: ExportQuery; format: ExportFormat }> {
  const params = new Params(search, options)
  const query: ExportQuery = { ...readFilter(params), ...readOrder(params) }
  const format = params.oneOf('format', ['csv', 'json', 'ndjson'] as const) ?? 'json'
  return params.result({ export: query, format })
}

/** Whose data a personal-data request is about, as its query names them. */
export interface PersonQuery {
  userId?: string
  anonymousId?: string
  format: ExportFormat
}

/**
 * `GET` / `DELETE …/personal-data`: `userId` (alias `user_id`) or `anonymousId`, and for `GET` the
 * export `format`. Filters, sorting and time ranges do not apply: the route is about a whole person.
 */
export function parsePersonQuery(search: URLSearchParams, options: QueryOptions, withFormat: boolean): QueryResult<PersonQuery> {
  const params = new Params(search, options)
  const query: PersonQuery = { format: 'json' }
  const userId = params.string('userId', 'user_id')
  if (userId !== undefined) query.userId = userId
  const anonymousId = params.string('anonymousId')
  if (anonymousId !== undefined) query.anonymousId = anonymousId
  if (userId !== undefined && anonymousId !== undefined) params.issue('anonymousId', 'Name one person: userId or anonymousId, not both.')
  if (withFormat) query.format = params.oneOf('format', ['csv', 'json', 'ndjson'] as const) ?? 'json'
  return params.result(query)
}
