import type { Activity } from '@usertracking/core'
import { useId, useMemo, useState, type ReactNode } from 'react'
import { ActivityChart } from './activity-chart'
import { ActivityDetails } from './activity-details'
import { ActivityFilters } from './activity-filters'
import { ActivityTable } from './activity-table'
import { useActivityContext } from './context'
import { LiveCounter } from './live-counter'
import { StatsCards } from './stats-cards'
import { useActivities } from './use-activities'
import { useActivityStats } from './use-activity-stats'
import { isFiltered, useActivityView, viewQuery } from './use-activity-view'

/** Props of {@link AdminDashboard}. */
export interface AdminDashboardProps {
  /** The heading. @default 'Activity dashboard' */
  title?: ReactNode
  /** Days of history in the cards and charts, today included. @default 14 */
  days?: number
  /** Rows per page of recent activity. @default 10 */
  perPage?: number
  /** Also fetch the numbers this often, in ms, besides live updates. @default off */
  refreshIntervalMs?: number
}

const DAY_MS = 86_400_000

interface BreakdownProps {
  caption: string
  keyLabel: string
  loading: boolean
  rows: { key: string; count: number; tokens: number; cost: number }[]
}

/** Counts, tokens and cost per key (type, page), as a table. */
function Breakdown({ caption, keyLabel, loading, rows }: BreakdownProps) {
  const { format } = useActivityContext()
  return (
    <table className="ut ut-table">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{keyLabel}</th>
          {['Count', 'Tokens', 'Cost'].map((label) => (
            <th key={label} scope="col" className="ut-number">
              {label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 && (
          <tr>
            <td colSpan={4} className="ut-empty">
              {loading ? 'Loading…' : 'Nothing in this period.'}
            </td>
          </tr>
        )}
        {rows.map((row) => (
          <tr key={row.key}>
            <th scope="row" data-label={keyLabel}>
              {row.key}
            </th>
            <td data-label="Count" className="ut-number">
              {format.number(row.count)}
            </td>
            <td data-label="Tokens" className="ut-number">
              {format.number(row.tokens)}
            </td>
            <td data-label="Cost" className="ut-number">
              {format.money(row.cost)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/**
 * The admin view of stories 3 and 4: totals, unique users and visitors, sessions, tokens and cost
 * over the last `days`, activities, tokens and cost per day, counts by type and by page, a live "N
 * activities today" counter, and recent activity across users (filtered by type, dates and
 * tokens, sortable, paged) with details. It needs a principal the server treats as an admin to
 * see every user's rows.
 */
export function AdminDashboard({ title = 'Activity dashboard', days = 14, perPage = 10, refreshIntervalMs }: AdminDashboardProps) {
  const headingId = useId()
  // UTC midnights: the server's day buckets start there.
  const [from] = useState(() => new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - (days - 1) * DAY_MS).toISOString())
  const to = new Date(Date.parse(from) + days * DAY_MS)
  const stats = useActivityStats({ from, intervalMs: DAY_MS }, { live: true, ...(refreshIntervalMs ? { refreshIntervalMs } : {}) })
  // Story 4's admin list: every user's activity, filtered and sorted here; not in the URL, which a page may give to MyActivities.
  const [view, setView] = useActivityView({ syncUrl: false })
  const recentQuery = useMemo(() => ({ ...viewQuery(view), perPage }), [view, perPage])
  const recent = useActivities(recentQuery, { page: view.page ?? 1, onPageChange: (page) => setView({ ...view, page }) })
  const [selected, setSelected] = useState<Activity>()
  // Story 3's pages: one bucket per `context.page`, most visited first.
  const pages = useActivityStats({ from, per: 'page' }, { live: true })
  return (
    <section className="ut ut-page ut-dashboard" aria-labelledby={headingId}>
      <header className="ut-page-header">
        <h2 id={headingId}>{title}</h2>
        <LiveCounter />
      </header>
      <StatsCards stats={stats} cards={['total', 'users', 'visitors', 'sessions', 'tokens', 'cost']} />
      <div className="ut-grid">
        {(['count', 'tokens', 'cost'] as const).map((metric) => (
          <ActivityChart key={metric} stats={stats} intervalMs={DAY_MS} from={from} to={to} metric={metric} />
        ))}
      </div>
      <div className="ut-grid">
        <Breakdown caption="By activity type" keyLabel="Activity Type" loading={stats.loading} rows={(stats.stats?.byType ?? []).map((entry) => ({ key: entry.activityType, ...entry }))} />
        <Breakdown caption="Top pages" keyLabel="Page" loading={pages.loading} rows={(pages.stats?.buckets ?? []).slice(0, 10).map((bucket) => ({ key: bucket.key ?? '', ...bucket }))} />
      </div>
      <h3>Recent activity</h3>
      <ActivityFilters value={view} onChange={setView} types={stats.stats?.byType.map((entry) => entry.activityType)} />
      <ActivityTable
        activities={recent}
        showUser
        sort={view.sort}
        order={view.order}
        onSortChange={(sort, order) => setView({ ...view, sort, order })}
        onViewDetails={setSelected}
        caption="Recent activity across users"
        emptyMessage={isFiltered(view) ? 'No activities match these filters.' : 'No activities yet.'}
      />
      <ActivityDetails activity={selected} onClose={() => setSelected(undefined)} />
    </section>
  )
}
