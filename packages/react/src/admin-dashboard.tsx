import type { Activity } from '@usertracking/core'
import { useId, useState, type ReactNode } from 'react'
import { ActivityChart } from './activity-chart'
import { ActivityDetails } from './activity-details'
import { ActivityTable } from './activity-table'
import { useActivityContext } from './context'
import { LiveCounter } from './live-counter'
import { StatsCards } from './stats-cards'
import { useActivities } from './use-activities'
import { useActivityStats } from './use-activity-stats'

/** Props of {@link AdminDashboard}. */
export interface AdminDashboardProps {
  /** The heading. @default 'Activity dashboard' */
  title?: ReactNode
  /** Days of history in the cards and charts, today included. @default 14 */
  days?: number
  /** Rows of recent activity. @default 10 */
  perPage?: number
  /** Also fetch the numbers this often, in ms, besides live updates. @default off */
  refreshIntervalMs?: number
}

const DAY_MS = 86_400_000

/**
 * The admin view of stories 3 and 4: totals, unique users and visitors, sessions, tokens and cost
 * over the last `days`, activities and tokens per day, counts by type, a live "N activities
 * today" counter, and recent activity across users with details. It needs a principal the server
 * treats as an admin to see every user's rows.
 */
export function AdminDashboard({ title = 'Activity dashboard', days = 14, perPage = 10, refreshIntervalMs }: AdminDashboardProps) {
  const headingId = useId()
  const { format } = useActivityContext()
  // UTC midnights: the server's day buckets start there.
  const [from] = useState(() => new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - (days - 1) * DAY_MS).toISOString())
  const stats = useActivityStats({ from, intervalMs: DAY_MS }, { live: true, ...(refreshIntervalMs ? { refreshIntervalMs } : {}) })
  const recent = useActivities({ perPage })
  const [selected, setSelected] = useState<Activity>()
  const byType = stats.stats?.byType ?? []
  return (
    <section className="ut ut-page ut-dashboard" aria-labelledby={headingId}>
      <header className="ut-page-header">
        <h2 id={headingId}>{title}</h2>
        <LiveCounter />
      </header>
      <StatsCards stats={stats} cards={['total', 'users', 'visitors', 'sessions', 'tokens', 'cost']} />
      <div className="ut-grid">
        <ActivityChart stats={stats} intervalMs={DAY_MS} from={from} to={new Date(Date.parse(from) + days * DAY_MS)} metric="count" />
        <ActivityChart stats={stats} intervalMs={DAY_MS} from={from} to={new Date(Date.parse(from) + days * DAY_MS)} metric="tokens" />
      </div>
      <div className="ut-table-wrap">
        <table className="ut-table ut-by-type">
          <caption>By activity type</caption>
          <thead>
            <tr>
              <th scope="col">Activity Type</th>
              <th scope="col" className="ut-number">
                Count
              </th>
              <th scope="col" className="ut-number">
                Tokens
              </th>
              <th scope="col" className="ut-number">
                Cost
              </th>
            </tr>
          </thead>
          <tbody>
            {byType.length === 0 && (
              <tr>
                <td colSpan={4} className="ut-empty">
                  {stats.loading ? 'Loading…' : 'No activities in this period.'}
                </td>
              </tr>
            )}
            {byType.map((entry) => (
              <tr key={entry.activityType}>
                <th scope="row" data-label="Activity Type">
                  {entry.activityType}
                </th>
                <td data-label="Count" className="ut-number">
                  {format.number(entry.count)}
                </td>
                <td data-label="Tokens" className="ut-number">
                  {format.number(entry.tokens)}
                </td>
                <td data-label="Cost" className="ut-number">
                  {format.money(entry.cost)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>Recent activity</h3>
      <ActivityTable activities={recent} showUser onViewDetails={setSelected} caption="Recent activity across users" />
      <ActivityDetails activity={selected} onClose={() => setSelected(undefined)} />
    </section>
  )
}
