import type { ActivitySortKey } from '@usertracking/core'
import { useCallback, useMemo, useState, useSyncExternalStore } from 'react'
import type { ActivitiesQuery } from './use-activities'

/**
 * What a person chose to see: filters and order, as they read in the page's URL
 * (`?activityType=job_match&from=2025-07-01&sort=tokens`), so a view can be shared or bookmarked.
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
/** Dispatched on `window` when the view changed the URL: `history.replaceState` fires no event of its own. */
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
  const entries: ActivityView = {
    activityType: text('activityType'),
    from: day('from'),
    to: day('to'),
    minTokens: count('minTokens'),
    maxTokens: count('maxTokens'),
    sort: sort && SORTS.includes(sort) ? (sort as ActivitySortKey) : undefined,
    order: order === 'asc' || order === 'desc' ? order : undefined,
  }
  for (const [name, value] of Object.entries(entries)) if (value !== undefined) (view as Record<string, unknown>)[name] = value
  return view
}

const VIEW_KEYS = ['activityType', 'from', 'to', 'minTokens', 'maxTokens', 'sort', 'order'] as const

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
 * The view (filters and order) as state, kept in the URL query by default so that a filtered
 * table can be shared as a link; the back button restores an earlier view. Server rendering sees
 * the empty view, then the browser's URL takes over.
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
  const setView = useCallback(
    (next: ActivityView) => {
      if (!syncUrl) return setLocal(next)
      const url = new URL(window.location.href)
      for (const name of VIEW_KEYS) {
        const value = next[name]
        if (value === undefined || value === '') url.searchParams.delete(name)
        else url.searchParams.set(name, String(value))
      }
      window.history.replaceState(window.history.state, '', url)
      window.dispatchEvent(new Event(CHANGE))
    },
    [syncUrl],
  )
  return [syncUrl ? view : local, setView]
}

/** Midnight starting a `YYYY-MM-DD` day in the viewer's time zone, `days` later. */
function localDay(day: string, days = 0): Date {
  const [year, month, date] = day.split('-').map(Number) as [number, number, number]
  return new Date(year, month - 1, date + days)
}

/** The list query of a view: days become instants in the viewer's time zone, the last day included. */
export function viewQuery(view: ActivityView): ActivitiesQuery {
  const { from, to, ...rest } = view
  const query: ActivitiesQuery = { ...rest }
  if (from) query.from = localDay(from).toISOString()
  if (to) query.to = localDay(to, 1).toISOString()
  return query
}
