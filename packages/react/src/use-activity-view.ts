import type { ActivitySortKey } from '@usertracking/core'
import { useCallback, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import type { ActivitiesQuery } from './use-activities'

/**
 * What a person chose to see: filters, order and page, as they read in the page's URL
 * (`?activityType=job_match&from=2025-07-01&sort=tokens&page=2`), so a view can be shared or bookmarked.
 */
export interface ActivityView {
  activityType?: string
  /** First day shown, `YYYY-MM-DD`, in the viewer's time zone. */
  from?: string
  /** Last day shown (included), `YYYY-MM-DD`. */
  to?: string
  minTokens?: number
  maxTokens?: number
  sort?: ActivitySortKey
  order?: 'asc' | 'desc'
  /** The 1-based page; absent on the first. A new filter or order goes back to the first page. */
  page?: number
}

/** Options of {@link useActivityView}. */
export interface UseActivityViewOptions {
  /** Keep the view in the page's URL query (other parameters are left alone). @default true */
  syncUrl?: boolean
  /** The view before anyone chose one (without `syncUrl`, or with an empty URL query). */
  initial?: ActivityView
}

const DAY = /^\d{4}-\d{2}-\d{2}$/
const SORTS: readonly string[] = ['timestamp', 'durationMs', 'tokens']
/** Dispatched on `window` when the view changed the URL: `history.pushState` fires no event of its own. */
const CHANGE = 'usertracking:view'

function readView(search: string): ActivityView {
  const params = new URLSearchParams(search)
  const view: ActivityView = {}
  const text = (name: string) => params.get(name) || undefined
  const day = (name: string) => (DAY.test(params.get(name) ?? '') ? params.get(name)! : undefined)
  const count = (name: string) => {
    const value = Number(params.get(name) ?? Number.NaN)
    return params.get(name) && Number.isFinite(value) && value >= 0 ? value : undefined
  }
  const sort = text('sort')
  const order = text('order')
  const page = count('page')
  const entries: ActivityView = {
    activityType: text('activityType'),
    from: day('from'),
    to: day('to'),
    minTokens: count('minTokens'),
    maxTokens: count('maxTokens'),
    sort: sort && SORTS.includes(sort) ? (sort as ActivitySortKey) : undefined,
    order: order === 'asc' || order === 'desc' ? order : undefined,
    page: page !== undefined && page > 1 && Number.isInteger(page) ? page : undefined,
  }
  for (const [name, value] of Object.entries(entries)) if (value !== undefined) (view as Record<string, unknown>)[name] = value
  return view
}

const VIEW_KEYS = ['activityType', 'from', 'to', 'minTokens', 'maxTokens', 'sort', 'order', 'page'] as const
/** Fields typed into, which change at every keystroke: one history entry per edit, not per key. */
const TYPED: readonly string[] = ['from', 'to', 'minTokens', 'maxTokens']

/** The view to show next: a new filter or order starts from its first page. */
function settle(current: ActivityView, next: ActivityView): ActivityView {
  const moved = VIEW_KEYS.some((name) => name !== 'page' && current[name] !== next[name])
  const { page, ...rest } = next
  return !moved && page !== undefined && page > 1 ? { ...rest, page } : rest
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange)
  window.addEventListener(CHANGE, onChange)
  return () => {
    window.removeEventListener('popstate', onChange)
    window.removeEventListener(CHANGE, onChange)
  }
}

const urlSearch = () => window.location.search
// On the server (and while hydrating) there is no URL to read: the view starts empty there.
const noSearch = () => ''

/**
 * The view (filters, order and page) as state, kept in the URL query by default so that a
 * filtered table can be shared as a link. Each change is a new history entry (`history.pushState`;
 * typing into a field is one entry per field edited, not one per key), so the back and forward
 * buttons step through earlier views. Server rendering sees the empty view, then the browser's
 * URL takes over.
 */
export function useActivityView(options: UseActivityViewOptions = {}): [ActivityView, (view: ActivityView) => void] {
  const syncUrl = options.syncUrl ?? true
  const [local, setLocal] = useState<ActivityView>(options.initial ?? {})
  const search = useSyncExternalStore(syncUrl ? subscribe : () => () => {}, syncUrl ? urlSearch : noSearch, noSearch)
  const initial = options.initial
  const view = useMemo(() => {
    const fromUrl = readView(search)
    return Object.keys(fromUrl).length > 0 ? fromUrl : (initial ?? {})
  }, [search, initial])
  // The entry this hook last wrote and the field typed into for it: the next keystroke replaces it.
  const typing = useRef<{ href: string; field: string | undefined }>(undefined)
  const setView = useCallback(
    (wanted: ActivityView) => {
      if (!syncUrl) return setLocal((current) => settle(current, wanted))
      const fromUrl = readView(window.location.search)
      const current = Object.keys(fromUrl).length > 0 ? fromUrl : (initial ?? {})
      const next = settle(current, wanted)
      const url = new URL(window.location.href)
      for (const name of VIEW_KEYS) {
        const value = next[name]
        if (value === undefined || value === '') url.searchParams.delete(name)
        else url.searchParams.set(name, String(value))
      }
      if (url.href === window.location.href) return
      const edited = VIEW_KEYS.filter((name) => name !== 'page' && current[name] !== next[name])
      const field = edited.length === 1 && TYPED.includes(edited[0]!) ? edited[0] : undefined
      if (field && typing.current?.field === field && typing.current.href === window.location.href) window.history.replaceState(window.history.state, '', url)
      else window.history.pushState(null, '', url)
      typing.current = { href: url.href, field }
      window.dispatchEvent(new Event(CHANGE))
    },
    [syncUrl, initial],
  )
  return [syncUrl ? view : local, setView]
}

/** Midnight starting a `YYYY-MM-DD` day in the viewer's time zone, `days` later. */
function localDay(day: string, days = 0): Date {
  const [year, month, date] = day.split('-').map(Number) as [number, number, number]
  return new Date(year, month - 1, date + days)
}

/**
 * The list query of a view: days become instants in the viewer's time zone, the last day
 * included. The page is not part of it: give it to {@link useActivities} as `options.page`.
 */
export function viewQuery(view: ActivityView): ActivitiesQuery {
  const { from, to, page: _page, ...rest } = view
  const query: ActivitiesQuery = { ...rest }
  if (from) query.from = localDay(from).toISOString()
  if (to) query.to = localDay(to, 1).toISOString()
  return query
}
