import { useId } from 'react'
import type { ActivityView } from './use-activity-view'

/** Props of {@link ActivityFilters}. */
export interface ActivityFiltersProps {
  /** The current view, e.g. from {@link useActivityView} (which keeps it in the URL). */
  value: ActivityView
  /** Called with the whole new view on every change. */
  onChange: (view: ActivityView) => void
  /** The activity types to choose from (e.g. `stats.byType`); the current one is always offered. */
  types?: readonly string[]
}

/**
 * Filters by activity type, date range (days in the viewer's time zone, both ends included) and
 * token range, as labelled form controls. Controlled: pair it with {@link useActivityView} to keep
 * the filters in the URL so a filtered view can be shared.
 */
export function ActivityFilters({ value, onChange, types = [] }: ActivityFiltersProps) {
  const id = useId()
  const set = (patch: ActivityView) => onChange({ ...value, ...patch })
  const count = (text: string) => (text === '' || !(Number(text) >= 0) ? undefined : Number(text))
  const options = value.activityType && !types.includes(value.activityType) ? [value.activityType, ...types] : types
  const active = ['activityType', 'from', 'to', 'minTokens', 'maxTokens'].some((name) => value[name as keyof ActivityView] !== undefined)
  return (
    <form className="ut ut-filters" role="search" aria-label="Filter activities" onSubmit={(event) => event.preventDefault()}>
      <div className="ut-field">
        <label htmlFor={`${id}-type`}>Activity type</label>
        <select id={`${id}-type`} value={value.activityType ?? ''} onChange={(event) => set({ activityType: event.target.value || undefined })}>
          <option value="">All types</option>
          {options.map((type) => (
            <option key={type} value={type}>
              {type}
            </option>
          ))}
        </select>
      </div>
      <div className="ut-field">
        <label htmlFor={`${id}-from`}>From</label>
        <input id={`${id}-from`} type="date" value={value.from ?? ''} max={value.to} onChange={(event) => set({ from: event.target.value || undefined })} />
      </div>
      <div className="ut-field">
        <label htmlFor={`${id}-to`}>To</label>
        <input id={`${id}-to`} type="date" value={value.to ?? ''} min={value.from} onChange={(event) => set({ to: event.target.value || undefined })} />
      </div>
      <div className="ut-field">
        <label htmlFor={`${id}-min`}>Min tokens</label>
        <input id={`${id}-min`} type="number" inputMode="numeric" min={0} value={value.minTokens ?? ''} onChange={(event) => set({ minTokens: count(event.target.value) })} />
      </div>
      <div className="ut-field">
        <label htmlFor={`${id}-max`}>Max tokens</label>
        <input id={`${id}-max`} type="number" inputMode="numeric" min={0} value={value.maxTokens ?? ''} onChange={(event) => set({ maxTokens: count(event.target.value) })} />
      </div>
      <button type="button" className="ut-button" disabled={!active} onClick={() => onChange({ sort: value.sort, order: value.order })}>
        Clear filters
      </button>
    </form>
  )
}
