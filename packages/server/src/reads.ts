import type { ActivityStats, ListPage, Store } from '@usertracking/core'
import type { Access, Principal } from './auth'
import { jsonResponse, queryError } from './errors'
import { parseListQuery, parseStatsQuery, type Pagination, type QueryOptions } from './query'
import type { StoreCaller } from './store-call'

/** The default answer of the list route, before a presenter reshapes it: core's wire type. */
export type ListAnswer = ListPage

/** The default answer of the stats route: the store's aggregates plus the `recent` window. */
export interface StatsAnswer extends ActivityStats {
  /**
   * Counts over the last `recent` (default `recentWindowMs`): activities from `from` on, by the
   * handler's time axis, within the query's filter.
   */
  recent: Pick<ActivityStats, 'total' | 'uniqueUsers' | 'uniqueVisitors' | 'sessions' | 'byType'> & { from: string }
}

/** What a presenter knows about the request it shapes an answer for. */
export interface PresentContext {
  /** The request, for its headers or URL. */
  request: Request
  /** The path that matched, so one presenter can serve several paths of a route differently. */
  path: string
  /** Who asked. */
  principal: Principal
}

/**
 * Reshapes a read route's answer into the JSON an existing front end expects. The returned value
 * is sent as JSON with status 200, or as is when it is a `Response`.
 */
export interface Presenters {
  /** Shapes the list route's answer. */
  list?: (answer: ListAnswer, context: PresentContext) => unknown
  /** Shapes the stats route's answer. */
  stats?: (answer: StatsAnswer, context: PresentContext) => unknown
}

/** What the read routes need from their handler. */
export interface ReadDependencies {
  store: Store
  access: Access
  storeCaller: StoreCaller
  present: Presenters
  query: QueryOptions
  pagination: Pagination
  recentWindowMs: number
  now: () => number
}

function presented(value: unknown): Response {
  return value instanceof Response ? value : jsonResponse(200, value)
}

/** The list and stats routes: a principal's scoped query, one store call each within the time limit, and the presenter. */
export function createReadRoutes(deps: ReadDependencies): {
  list(request: Request, url: URL, path: string): Promise<Response>
  stats(request: Request, url: URL, path: string): Promise<Response>
} {
  const { store, access, storeCaller, present } = deps
  return {
    async list(request, url, path) {
      const principal = await access.reader(request)
      const parsed = parseListQuery(url.searchParams, { ...deps.query, pagination: deps.pagination })
      if (!parsed.ok) throw queryError(parsed.issues)
      const { query, page } = parsed.query
      const result = await storeCaller.run(() => store.list(access.scope(query, principal)), { parameter: 'cursor', signal: request.signal })
      let answer: ListAnswer = result
      if (page) {
        const total = result.total ?? 0
        answer = { items: result.items, total, page: page.page, perPage: page.perPage, pages: Math.ceil(total / page.perPage) }
      }
      return presented(present.list ? await present.list(answer, { request, path, principal }) : answer)
    },

    async stats(request, url, path) {
      const principal = await access.reader(request)
      const parsed = parseStatsQuery(url.searchParams, { ...deps.query, recentWindowMs: deps.recentWindowMs })
      if (!parsed.ok) throw queryError(parsed.issues)
      const query = access.scope(parsed.query.stats, principal)
      // The recent window starts `recent` ago, or later when the query's own lower bound is later.
      const lower = deps.query.timeAxis === 'receivedAt' ? 'receivedFrom' : 'from'
      const windowStart = deps.now() - parsed.query.recentMs
      const bound = query[lower]
      const ownBound = bound !== undefined && Date.parse(String(bound)) > windowStart
      const from = ownBound ? String(bound) : new Date(windowStart).toISOString()
      const { groupBy: _groupBy, ...filter } = query
      const totals = storeCaller.run(() => store.stats(query), { signal: request.signal })
      // A window starting at the query's own lower bound is the query itself (buckets aside): one store call.
      const [all, recent] = await Promise.all([
        totals,
        ownBound ? totals : storeCaller.run(() => store.stats({ ...filter, [lower]: from }), { parameter: 'recent', signal: request.signal }),
      ])
      const { total, uniqueUsers, uniqueVisitors, sessions, byType } = recent
      const answer: StatsAnswer = { ...all, recent: { from, total, uniqueUsers, uniqueVisitors, sessions, byType } }
      return presented(present.stats ? await present.stats(answer, { request, path, principal }) : answer)
    },
  }
}
