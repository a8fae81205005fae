import type { Activity } from '@usertracking/core'
import { useId, useMemo, useState, type ReactNode } from 'react'
import { ActivityDetails } from './activity-details'
import { ActivityFilters } from './activity-filters'
import { ActivityTable } from './activity-table'
import { ExportButton } from './export-button'
import { LiveStatus } from './live-status'
import { useActivities, type UseActivitiesOptions } from './use-activities'
import { useActivityStats } from './use-activity-stats'
import { useActivityView, viewQuery, type ActivityView } from './use-activity-view'

/** Props of {@link MyActivities}. */
export interface MyActivitiesProps extends Omit<UseActivitiesOptions, 'page' | 'onPageChange'> {
  /** The heading. @default 'My Activities' */
  title?: ReactNode
  /** Activity types in the type filter. @default the types the server counts for this user */
  types?: readonly string[]
  /** Rows per page. @default 20 */
  perPage?: number
  /** Keep filters, order and page in the URL query, a history entry each (back and forward step through them). @default true */
  syncUrl?: boolean
  /** How details open. @default 'modal' */
  details?: 'modal' | 'drawer'
}

function TypeFilters(props: { value: ActivityView; onChange: (view: ActivityView) => void }) {
  const stats = useActivityStats()
  return <ActivityFilters {...props} types={stats.stats?.byType.map((entry) => entry.activityType)} />
}

/**
 * Story 1's "My Activities" page in one component: filters and page kept in the URL, CSV and JSON export of
 * what is filtered, the sortable, paged table, live updates and the details modal. The server
 * decides whose rows these are: a signed-in non-admin only ever gets their own.
 */
export function MyActivities({ title = 'My Activities', types, perPage = 20, syncUrl = true, details = 'modal', ...options }: MyActivitiesProps) {
  const headingId = useId()
  const [view, setView] = useActivityView({ syncUrl })
  const query = useMemo(() => ({ ...viewQuery(view), perPage }), [view, perPage])
  const activities = useActivities(query, { ...options, page: view.page ?? 1, onPageChange: (page) => setView({ ...view, page }) })
  const [selected, setSelected] = useState<Activity>()
  const { perPage: _perPage, ...filter } = query
  // The file holds the rows in the table's order: lists default to newest first, exports to oldest first.
  const exportQuery = { ...filter, order: filter.order ?? 'desc' }
  return (
    <section className="ut ut-page" aria-labelledby={headingId}>
      <header className="ut-page-header">
        <h2 id={headingId}>{title}</h2>
        {options.live !== false && <LiveStatus live={activities.live} />}
        <ExportButton query={exportQuery} />
      </header>
      {types ? <ActivityFilters value={view} onChange={setView} types={types} /> : <TypeFilters value={view} onChange={setView} />}
      <ActivityTable
        activities={activities}
        sort={view.sort}
        order={view.order}
        onSortChange={(sort, order) => setView({ ...view, sort, order })}
        onViewDetails={setSelected}
        caption={title}
        emptyMessage={Object.keys(view).some((name) => name !== 'sort' && name !== 'order' && name !== 'page') ? 'No activities match these filters.' : 'No activities yet.'}
      />
      <ActivityDetails activity={selected} onClose={() => setSelected(undefined)} variant={details} />
    </section>
  )
}
