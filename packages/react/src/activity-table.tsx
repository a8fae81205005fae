import type { Activity, ActivitySortKey } from '@usertracking/core'
import { useId, type ReactNode } from 'react'
import { useActivityContext } from './context'
import type { ActivitiesState } from './use-activities'

/** Props of {@link ActivityTable}. */
export interface ActivityTableProps {
  /** The rows and paging, from {@link useActivities}. */
  activities: ActivitiesState
  /** The order shown in the headers. @default 'timestamp' */
  sort?: ActivitySortKey
  /** @default 'desc' */
  order?: 'asc' | 'desc'
  /** Called when a sortable header is clicked; without it the headers do not sort. */
  onSortChange?: (sort: ActivitySortKey, order: 'asc' | 'desc') => void
  /** Called by each row's "View details" button; without it the column is left out. */
  onViewDetails?: (activity: Activity) => void
  /** Also show whose activity each row is (an admin's view of every user). @default false */
  showUser?: boolean
  /** The table's caption, read by screen readers. @default 'Activities' */
  caption?: ReactNode
  /** What an empty table says. @default 'No activities yet.' */
  emptyMessage?: ReactNode
}

/** The columns; a sortable one names its orders as the phone's sort menu reads them (`desc` first). */
const HEADERS: { label: string; sort?: ActivitySortKey; orders?: { desc: string; asc: string }; className?: string }[] = [
  { label: 'Activity Type' },
  { label: 'Timestamp', sort: 'timestamp', orders: { desc: 'newest first', asc: 'oldest first' } },
  { label: 'Time Taken', sort: 'durationMs', orders: { desc: 'longest first', asc: 'shortest first' }, className: 'ut-number' },
  { label: 'Token Usage', sort: 'tokens', orders: { desc: 'most first', asc: 'fewest first' }, className: 'ut-number' },
]

/**
 * The activity table of a "My Activities" page: Activity Type | Timestamp | Time Taken | Token
 * Usage | View Details, sortable headers (`aria-sort`), pagination, loading, empty and error
 * states, new live rows highlighted for a few seconds and announced to screen readers. Below 640 px wide each row
 * becomes a card, so it reads on a phone, and a "Sort by" menu with the headers' orders takes the
 * place of the (hidden) header row.
 */
export function ActivityTable({ activities, sort = 'timestamp', order = 'desc', onSortChange, onViewDetails, showUser = false, caption = 'Activities', emptyMessage = 'No activities yet.' }: ActivityTableProps) {
  const { format } = useActivityContext()
  const { items, loading, error, fresh, pending } = activities
  const freshIds = new Set(fresh.map((activity) => activity.id))
  const columns = HEADERS.length + (showUser ? 1 : 0) + (onViewDetails ? 1 : 0)
  const latest = fresh.at(-1)
  const sortId = useId()
  return (
    <div className="ut ut-table-wrap">
      {onSortChange && (
        <div className="ut-field ut-sort-field">
          <label htmlFor={sortId}>Sort by</label>
          <select
            id={sortId}
            value={`${sort} ${order}`}
            onChange={(event) => {
              const [key, direction] = event.target.value.split(' ') as [ActivitySortKey, 'asc' | 'desc']
              onSortChange(key, direction)
            }}
          >
            {HEADERS.flatMap((header) =>
              header.sort && header.orders
                ? (['desc', 'asc'] as const).map((direction) => (
                    <option key={`${header.sort} ${direction}`} value={`${header.sort} ${direction}`}>
                      {`${header.label}, ${header.orders![direction]}`}
                    </option>
                  ))
                : [],
            )}
          </select>
        </div>
      )}
      <p className="ut-visually-hidden" role="status" aria-live="polite">
        {latest ? `New activity: ${latest.activityType}${fresh.length > 1 ? ` (${fresh.length} new)` : ''}` : ''}
      </p>
      {pending > 0 && (
        <button type="button" className="ut-button ut-pending" onClick={() => (onSortChange && (sort !== 'timestamp' || order !== 'desc') ? onSortChange('timestamp', 'desc') : activities.showPending())}>
          {pending === 1 ? '1 new activity' : `${format.number(pending)} new activities`} — show
        </button>
      )}
      {error && (
        <div className="ut-error" role="alert">
          <p>Could not load activities. {error.message.replace(/^\[usertracking\] \[client\] /, '')}</p>
          <button type="button" className="ut-button" onClick={activities.refresh}>
            Try again
          </button>
        </div>
      )}
      <table className="ut-table" aria-busy={loading}>
        <caption className="ut-visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {showUser && <th scope="col">User</th>}
            {HEADERS.map((header) => {
              const active = header.sort === sort
              const next = active && order === 'desc' ? 'asc' : 'desc'
              return (
                <th key={header.label} scope="col" className={header.className} aria-sort={active && onSortChange ? (order === 'asc' ? 'ascending' : 'descending') : undefined}>
                  {header.sort && onSortChange ? (
                    <button type="button" className="ut-sort" onClick={() => onSortChange(header.sort!, next)}>
                      {header.label}
                      <span aria-hidden="true" className="ut-sort-icon">
                        {active ? (order === 'asc' ? '▲' : '▼') : '↕'}
                      </span>
                    </button>
                  ) : (
                    header.label
                  )}
                </th>
              )
            })}
            {onViewDetails && (
              <th scope="col">
                <span className="ut-visually-hidden">View Details</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {items.length === 0 && (
            <tr>
              <td colSpan={columns} className="ut-empty">
                {loading ? 'Loading activities…' : error ? 'Nothing to show.' : emptyMessage}
              </td>
            </tr>
          )}
          {items.map((activity) => (
            <tr key={activity.id} className={freshIds.has(activity.id) ? 'ut-fresh' : undefined}>
              {showUser && <td data-label="User">{activity.userId ?? activity.anonymousId ?? '—'}</td>}
              <th scope="row" data-label="Activity Type">
                {activity.activityType}
                {activity.status === 'error' && <span className="ut-badge ut-badge-error">error</span>}
              </th>
              <td data-label="Timestamp">
                <time dateTime={activity.timestamp}>{format.timestamp(activity.timestamp)}</time>
              </td>
              <td data-label="Time Taken" className="ut-number">
                {format.duration(activity.durationMs)}
              </td>
              <td data-label="Token Usage" className="ut-number">
                {format.number(activity.tokenUsage?.total)}
              </td>
              {onViewDetails && (
                <td className="ut-actions">
                  <button type="button" className="ut-button" onClick={() => onViewDetails(activity)} aria-label={`View details of ${activity.activityType} at ${format.timestamp(activity.timestamp)}`}>
                    View details
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <nav className="ut-pagination" aria-label="Pagination">
        <button type="button" className="ut-button" onClick={activities.previous} disabled={!activities.hasPrevious || loading}>
          Previous
        </button>
        <span aria-live="polite">
          Page {activities.page}
          {activities.pages !== undefined && ` of ${format.number(activities.pages)}`}
          {activities.total !== undefined && <span className="ut-muted"> · {activities.total === 1 ? '1 activity' : `${format.number(activities.total)} activities`}</span>}
        </span>
        <button type="button" className="ut-button" onClick={activities.next} disabled={!activities.hasNext || loading}>
          Next
        </button>
      </nav>
    </div>
  )
}
