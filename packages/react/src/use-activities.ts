import type { ActivityPage, LiveState } from '@usertracking/client'
import type { Activity, ActivityFilter, ActivitySortKey } from '@usertracking/core'
import { useEffect, useRef, useState } from 'react'
import { useActivityContext } from './context'

/** What {@link useActivities} shows: a filter, an order and a page size. */
export interface ActivitiesQuery extends ActivityFilter {
  /** @default 'timestamp' */
  sort?: ActivitySortKey
  /** @default 'desc' */
  order?: 'asc' | 'desc'
  /** Rows per page, 1–1000. @default 20 */
  perPage?: number
}

/** Options of {@link useActivities}. */
export interface UseActivitiesOptions {
  /**
   * `cursor` pages with the server's keyset cursor (any server; stable while rows arrive);
   * `page` asks for page numbers (`page` / `perPage`), which lets {@link ActivitiesState.goTo}
   * jump to any page.
   * @default 'cursor'
   */
  pagination?: 'cursor' | 'page'
  /** Merge new activities in as they happen, over the live stream. @default true */
  live?: boolean
  /**
   * The 1-based page to show, when the caller keeps it (in the URL, as {@link useActivityView}
   * does): paging then calls `onPageChange` instead of moving by itself, and a change of query
   * no longer goes back to the first page unless the caller says so. @default kept by the hook
   */
  page?: number
  /** Called with the page to show, when `page` is given. */
  onPageChange?: (page: number) => void
}

/** What {@link useActivities} returns. */
export interface ActivitiesState {
  /** The rows on screen. */
  items: Activity[]
  /** A page is being fetched; `items` still holds the previous one, so nothing jumps meanwhile. */
  loading: boolean
  /** Why the last fetch failed; cleared by the next success. */
  error: Error | undefined
  /** The 1-based page on screen. */
  page: number
  /** How many pages there are, when the server counted. */
  pages: number | undefined
  /**
   * How many activities match, when the server counted (live arrivals included). Cursor paging
   * asks for the count with the first page only (counting every match is the expensive part of a
   * list) and keeps it for the pages after.
   */
  total: number | undefined
  hasNext: boolean
  hasPrevious: boolean
  next(): void
  previous(): void
  /**
   * Jumps to any page. With cursors, a page not reached through the ones before it (a link to
   * page 3) is fetched by its number, and so are the pages after it.
   */
  goTo(page: number): void
  /** Fetches the page on screen again. */
  refresh(): void
  /** The live stream's state (`connected`, `error`). */
  live: LiveState
  /** Activities merged in live since the page was fetched, oldest first: for highlighting (the table does for a few seconds) and announcing. */
  fresh: Activity[]
  /** Activities that arrived live but belong elsewhere than this page or order (see {@link ActivitiesState.showPending}). */
  pending: number
  /** Goes to the first page and fetches it again (with the query's order: set newest first to see the new rows on top). */
  showPending(): void
}

interface Loaded {
  /** The query (its JSON) these rows answer. */
  key: string
  items: Activity[]
  total: number | undefined
  pages: number | undefined
  nextCursor: string | undefined
  fresh: Activity[]
  pending: number
}

interface Placement {
  page: number
  sort: ActivitySortKey
  order: 'asc' | 'desc'
  perPage: number
  hasNext: boolean
}

const EMPTY: Loaded = { key: '', items: [], total: undefined, pages: undefined, nextCursor: undefined, fresh: [], pending: 0 }

/**
 * A new activity joins the rows on screen only where it belongs and where it cannot move what the
 * reader is looking at: the first page, newest first. Anywhere else it is counted as pending.
 */
function merge(loaded: Loaded, activity: Activity, at: Placement): Loaded {
  if (loaded.items.some((item) => item.id === activity.id)) return loaded
  const total = loaded.total === undefined ? undefined : loaded.total + 1
  if (at.page !== 1 || at.sort !== 'timestamp' || at.order !== 'desc') return { ...loaded, total, pending: loaded.pending + 1 }
  // Normalised timestamps are ISO 8601 in UTC, which sort as strings.
  let index = loaded.items.findIndex((item) => item.timestamp < activity.timestamp)
  if (index === -1) {
    // Older than every row on a full page: it belongs on a later page.
    if (loaded.items.length >= at.perPage && at.hasNext) return { ...loaded, total }
    index = loaded.items.length
  }
  const items = [...loaded.items.slice(0, index), activity, ...loaded.items.slice(index)]
  return { ...loaded, items, total, fresh: [...loaded.fresh, activity] }
}

/**
 * A page of activities with paging, sorting and filters, kept current over the live stream: new
 * activities appear at the top of the first page (never twice, and never moving rows on another
 * page: there they are counted in `pending`). A change of `query` goes back to the first page
 * (unless the caller keeps the page: see {@link UseActivitiesOptions.page}).
 *
 * ```tsx
 * const activities = useActivities({ activityType: 'resume_generation', sort: 'tokens' })
 * ```
 */
export function useActivities(query: ActivitiesQuery = {}, options: UseActivitiesOptions = {}): ActivitiesState {
  const { client } = useActivityContext()
  const pagination = options.pagination ?? 'cursor'
  const liveEnabled = options.live ?? true
  // Effects run again when the query's content changes, not when a caller passes a new object.
  const key = JSON.stringify(query)
  const [position, setPosition] = useState({ key, page: 1, reload: 0 })
  const controlled = options.page !== undefined
  const page = controlled ? Math.max(1, Math.floor(options.page!) || 1) : position.key === key ? position.page : 1
  const reload = position.key === key ? position.reload : 0
  const [loaded, setLoaded] = useState<Loaded>(EMPTY)
  const [loading, setLoading] = useState(true)
  const [error, setError] = useState<Error>()
  const [live, setLive] = useState<LiveState>({ status: liveEnabled ? 'connecting' : 'closed', connected: false })
  const cursors = useRef<{ key: string; list: (string | undefined)[] }>({ key, list: [undefined] })
  // The query whose total is known: later cursor pages of it need not count again.
  const counted = useRef<string | undefined>(undefined)
  if (cursors.current.key !== key) cursors.current = { key, list: [undefined] }
  const perPage = query.perPage ?? 20
  /** Whether a page is asked for by number: with page numbers, or with cursors when its cursor is unknown. */
  const byNumber = (at: number) => pagination === 'page' || (at > 1 && cursors.current.list[at - 1] === undefined)
  const hasNext = byNumber(page) ? page < (loaded.pages ?? 0) : cursors.current.list[page] !== undefined
  const placement: Placement = { page, sort: query.sort ?? 'timestamp', order: query.order ?? 'desc', perPage, hasNext }
  // The live callback outlives renders: it reads where the reader is through this ref.
  const current = useRef({ placement, loading, arrived: [] as Activity[] })
  current.current.placement = placement
  current.current.loading = loading

  useEffect(() => {
    const controller = new AbortController()
    const { perPage: size = 20, ...rest } = JSON.parse(key) as ActivitiesQuery
    const cursorList = cursors.current.list
    setLoading(true)
    current.current.loading = true
    const numbered = byNumber(page)
    const request: Promise<ActivityPage> =
      numbered
        ? client.list({ ...rest, page, perPage: size }, { signal: controller.signal })
        : client.list({ ...rest, limit: size, cursor: cursorList[page - 1], includeTotal: page === 1 || counted.current !== key }, { signal: controller.signal })
    request.then(
      (result) => {
        if (controller.signal.aborted) return
        if (!numbered) cursorList[page] = result.nextCursor
        if (result.total !== undefined) counted.current = key
        // What arrived live while this page was on its way: kept unless the page already has it.
        const arrived = current.current.arrived.splice(0)
        const placement = current.current.placement
        current.current.loading = false
        setLoaded((previous) => {
          // A later cursor page comes without a count: the first page's stands (with what arrived live since).
          const total = result.total ?? (previous.key === key ? previous.total : undefined)
          const pages = result.pages ?? (total === undefined ? undefined : Math.max(1, Math.ceil(total / size)))
          let next: Loaded = { key, items: result.items, total, pages, nextCursor: result.nextCursor, fresh: [], pending: 0 }
          const at = { ...placement, hasNext: numbered ? page < (pages ?? 0) : result.nextCursor !== undefined }
          for (const activity of arrived) next = merge(next, activity, at)
          return next
        })
        setError(undefined)
        setLoading(false)
      },
      (reason: unknown) => {
        if (controller.signal.aborted) return
        current.current.loading = false
        setError(reason instanceof Error ? reason : new Error(String(reason)))
        setLoading(false)
      },
    )
    return () => controller.abort()
  }, [client, key, page, reload, pagination])

  useEffect(() => {
    // Arrivals held for a fetch of the previous query belong to another filter.
    current.current.arrived = []
    if (!liveEnabled) return
    const { sort: _sort, order: _order, perPage: _perPage, ...filter } = JSON.parse(key) as ActivitiesQuery
    const subscription = client.live(
      filter,
      (activity) => {
        if (current.current.loading) current.current.arrived.push(activity)
        else setLoaded((previous) => merge(previous, activity, current.current.placement))
      },
      {
        onState: setLive,
        // The server could not replay what was missed: the page on screen may lack rows.
        onReset: () =>
          setPosition((previous) => (previous.key === key ? { ...previous, reload: previous.reload + 1 } : { key, page: 1, reload: 1 })),
      },
    )
    setLive(subscription.state)
    return () => subscription.close()
  }, [client, key, liveEnabled])

  const goTo = (target: number) => {
    const next = Math.max(1, Math.floor(target) || 1)
    if (controlled) options.onPageChange?.(next)
    else setPosition((previous) => ({ key, page: next, reload: previous.key === key ? previous.reload : 0 }))
  }
  const pages = loaded.pages
  return {
    ...loaded,
    loading,
    error,
    page,
    pages,
    hasNext,
    hasPrevious: page > 1,
    next: () => hasNext && goTo(page + 1),
    previous: () => goTo(page - 1),
    goTo,
    refresh: () => setPosition({ key, page, reload: reload + 1 }),
    live,
    showPending: () => {
      setPosition({ key, page: 1, reload: reload + 1 })
      if (controlled) options.onPageChange?.(1)
    },
  }
}
