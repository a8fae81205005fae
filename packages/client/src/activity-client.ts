import type { Activity, ActivityFilter, ActivitySortKey, ActivityStats, ListPage, StatsGroupKey } from '@usertracking/core'
import { ActivityClientError, type ActivityClientIssue } from './errors'
import { createLiveHub, type EventSourceConstructor, type LiveOptions, type LiveSubscription, type LiveTiming } from './live'
import { filterParams, queryString } from './query-string'

/** Paths of the server routes the client calls, relative to `baseUrl`; the server's defaults unless its route table moved them. */
export interface ActivityRoutes {
  /** @default '/activities' */
  list: string
  /** @default '/activities/stats' */
  stats: string
  /** @default '/activities/export' */
  export: string
  /** @default '/activities/stream' */
  stream: string
}

/** Options of {@link createActivityClient}, all optional. */
export interface ActivityClientOptions {
  /**
   * Where the server's routes live: a path on this origin (`/api`) or an absolute URL
   * (`https://api.example.com/api`), without a trailing slash.
   * @default '/api' (the server's default `basePath`)
   */
  baseUrl?: string
  /** Route paths, when the server's `routes` option moved them. */
  routes?: Partial<ActivityRoutes>
  /** The fetch to use, e.g. one that adds auth or retries. @default globalThis.fetch */
  fetch?: typeof fetch
  /**
   * Headers sent with every request (an `Authorization` bearer token), or a function that returns
   * them (called before each request, so a refreshed token is picked up). Browsers cannot send
   * headers with their own `EventSource` or with a download link: with headers, the live stream
   * needs `options.EventSource` from the `eventsource` package, and exports are fetched (see
   * {@link ActivityClient.export}). Cookie sessions need none of this.
   */
  headers?: HeadersInit | (() => HeadersInit | Promise<HeadersInit>)
  /** The EventSource class for {@link ActivityClient.live}. @default globalThis.EventSource */
  EventSource?: EventSourceConstructor
  /** Send cookies with a cross-origin live stream (the EventSource `withCredentials` flag). @default false */
  withCredentials?: boolean
  /**
   * How long a list or stats request may take before it fails with status 0, in ms; an export
   * waits this long for the server to start answering, then streams as long as it takes.
   * @default 30000
   */
  timeoutMs?: number
  /** Reconnection timing of live streams. */
  live?: LiveTiming
  /** Errors thrown by your own live callbacks, which the client catches so one cannot stop the rest. @default console.error */
  onError?: (error: unknown) => void
}

/** A page request: a filter, an order, and either a cursor or a page number. */
export interface ActivityListQuery extends ActivityFilter {
  /** @default 'timestamp' */
  sort?: ActivitySortKey
  /** @default 'desc' */
  order?: 'asc' | 'desc'
  /** Page size for cursor paging, 1–1000. @default 50 (the server's) */
  limit?: number
  /** The previous page's `nextCursor`. */
  cursor?: string
  /** Also count every match into `total`. @default false */
  includeTotal?: boolean
  /** Page-number paging: the 1-based page (the answer then has `total`, `page`, `perPage`, `pages`). */
  page?: number
  /** Page size for page-number paging, 1–1000. @default 50 (the server's) */
  perPage?: number
}

/** One page of activities: `nextCursor` for cursor paging, `page` / `perPage` / `pages` for page numbers (the server's wire type, from core). */
export type ActivityPage = ListPage

/** An aggregate request: a filter, optional buckets and the window of the `recent` counts. */
export interface ActivityStatsQuery extends ActivityFilter {
  /** Bucket width in ms (at least one minute), aligned to the Unix epoch. */
  intervalMs?: number
  /** Also split buckets by this key. */
  per?: StatsGroupKey
  /** Which time buckets use. @default 'timestamp' */
  on?: 'timestamp' | 'receivedAt'
  /** Window of the `recent` counts, in ms. @default the server's (24 hours) */
  recentMs?: number
}

/** The stats route's answer: the store's aggregates plus counts over the recent window. */
export interface ActivityStatsResult extends ActivityStats {
  /** Counts over the server's recent window (24 hours by default, `recentMs`), from `from` on. */
  recent?: Pick<ActivityStats, 'total' | 'uniqueUsers' | 'uniqueVisitors' | 'sessions' | 'byType'> & { from: string }
}

/** Formats the export route writes. */
export type ExportFormat = 'csv' | 'json' | 'ndjson'

/** An export request: a filter, an order and a format. */
export interface ActivityExportQuery extends ActivityFilter {
  /** @default 'csv' */
  format?: ExportFormat
  /** @default 'timestamp' */
  sort?: ActivitySortKey
  /** @default 'asc' */
  order?: 'asc' | 'desc'
}

/** An export as it streams from the server. */
export interface ActivityExport {
  /** The file's bytes, as they arrive; memory stays flat whatever the size. */
  body: ReadableStream<Uint8Array>
  /** The name the server suggests (`activities.csv`). */
  filename: string
  /** The server's content type (`text/csv; charset=utf-8; header=present`). */
  contentType: string
}

/** Per-call options of the request methods. */
export interface RequestOptions {
  /** Cancels the request (an export's until its answer starts: then cancel its `body`). */
  signal?: AbortSignal
}

/** The typed client of the server's read routes; see {@link createActivityClient}. */
export interface ActivityClient {
  /** One page of activities. */
  list(query?: ActivityListQuery, options?: RequestOptions): Promise<ActivityPage>
  /** Aggregates, with buckets when `intervalMs` or `per` is set. */
  stats(query?: ActivityStatsQuery, options?: RequestOptions): Promise<ActivityStatsResult>
  /** The URL of an export, for a download link: the browser streams it to disk (cookie sessions only: a link sends no headers). */
  exportUrl(query?: ActivityExportQuery): string
  /** Fetches an export (with `options.headers`) as a stream. */
  export(query?: ActivityExportQuery, options?: RequestOptions): Promise<ActivityExport>
  /**
   * Calls `onActivity` for each new activity matching `filter`, over Server-Sent Events:
   * reconnecting with backoff, resuming after the last event seen (`Last-Event-ID`), and never
   * delivering the same activity twice. Subscriptions with the same filter share one connection.
   */
  live(filter: ActivityFilter, onActivity: (activity: Activity) => void, options?: LiveOptions): LiveSubscription
  /** Whether `options.headers` was given: downloads must then be fetched rather than linked. */
  readonly sendsHeaders: boolean
}

/**
 * A small typed client for the `@usertracking/server` read routes: list (cursor and page-number
 * paging), stats, export (a download URL or a stream) and a live stream. No framework and no DOM
 * beyond `fetch` and `EventSource`, both injectable.
 *
 * ```ts
 * const client = createActivityClient({ baseUrl: '/api' })
 * const { items, nextCursor } = await client.list({ activityType: 'resume_generation', sort: 'tokens' })
 * const live = client.live({}, (activity) => console.log(activity.activityType), { onState: console.log })
 * ```
 */
export function createActivityClient(options: ActivityClientOptions = {}): ActivityClient {
  const baseUrl = (options.baseUrl ?? '/api').replace(/\/+$/, '')
  const routes: ActivityRoutes = { list: '/activities', stats: '/activities/stats', export: '/activities/export', stream: '/activities/stream', ...options.routes }
  const timeoutMs = options.timeoutMs ?? 30_000
  const fetchFn = (input: string, init?: RequestInit) => (options.fetch ?? globalThis.fetch)(input, init)
  const headersOf = async (): Promise<HeadersInit | undefined> => (typeof options.headers === 'function' ? options.headers() : options.headers)
  const onError = options.onError ?? ((error: unknown) => console.error('[usertracking] [client] A live callback threw.', error))
  const url = (route: keyof ActivityRoutes, query: string) => `${baseUrl}${routes[route]}${query}`

  /** Fetches with the headers and a timeout that lasts until `read` is done with the response. */
  async function request<T>(target: string, signal: AbortSignal | undefined, read: (response: Response) => Promise<T>): Promise<T> {
    const controller = new AbortController()
    const abort = () => controller.abort()
    signal?.addEventListener('abort', abort)
    if (signal?.aborted) abort()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      abort()
    }, timeoutMs)
    try {
      let response: Response
      try {
        response = await fetchFn(target, { headers: await headersOf(), signal: controller.signal })
      } catch (error) {
        if (signal?.aborted) throw error
        throw new ActivityClientError(timedOut ? `GET ${target} took longer than ${timeoutMs} ms.` : `GET ${target} failed: ${(error as Error)?.message ?? error}`, 0, undefined, error)
      }
      if (!response.ok) {
        const body = (await response.json().catch(() => ({}))) as { error?: string; issues?: ActivityClientIssue[] }
        throw new ActivityClientError(`GET ${target} answered ${response.status}${body.error ? `: ${body.error.replace(/^\[usertracking\] \[server\] /, '')}` : '.'}`, response.status, body.issues)
      }
      return await read(response)
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', abort)
    }
  }

  const exportUrl = (query: ActivityExportQuery = {}) => {
    const { format = 'csv', sort, order, ...filter } = query
    return url('export', queryString({ ...filterParams(filter), sort, order, format }))
  }

  const eventSourceInit = {
    withCredentials: options.withCredentials ?? false,
    // The `eventsource` package reads `fetch` from its init (browsers ignore it): how the stream gets the headers.
    ...(options.headers || options.fetch
      ? {
          fetch: (async (input: string, init: RequestInit) => {
            const headers = new Headers(init.headers)
            new Headers(await headersOf()).forEach((value, name) => headers.set(name, value))
            return fetchFn(input, { ...init, headers })
          }) as typeof fetch,
        }
      : {}),
  }
  const hub = createLiveHub(options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource, eventSourceInit, options.live ?? {}, onError)

  return {
    sendsHeaders: options.headers !== undefined,
    list(query = {}, requestOptions) {
      const { sort, order, limit, cursor, includeTotal, page, perPage, ...filter } = query
      const search = queryString({ ...filterParams(filter), sort, order, limit, cursor, includeTotal: includeTotal || undefined, page, perPage })
      return request(url('list', search), requestOptions?.signal, (response) => response.json() as Promise<ActivityPage>)
    },
    stats(query = {}, requestOptions) {
      const { intervalMs, per, on, recentMs, ...filter } = query
      const search = queryString({ ...filterParams(filter), interval: intervalMs, per, on, recent: recentMs })
      return request(url('stats', search), requestOptions?.signal, (response) => response.json() as Promise<ActivityStatsResult>)
    },
    exportUrl,
    export(query = {}, requestOptions) {
      return request(exportUrl(query), requestOptions?.signal, async (response) => ({
        body: response.body ?? new Response('').body!,
        filename: /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? `activities.${query.format ?? 'csv'}`,
        contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      }))
    },
    live(filter, onActivity, liveOptions) {
      return hub(url('stream', queryString(filterParams(filter))), onActivity, liveOptions)
    },
  }
}
