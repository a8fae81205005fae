import type { Activity } from '@usertracking/core'
import { useId, type ReactNode } from 'react'
import { useActivityContext } from './context'
import { NONE } from './format'
import { MetadataTree } from './metadata-tree'
import { useFocusTrap } from './use-focus-trap'

/** Props of {@link ActivityDetails}. */
export interface ActivityDetailsProps {
  /** The activity to show; nothing renders without one. */
  activity: Activity | undefined
  /** Called on the close button, Escape, or a click outside. */
  onClose: () => void
  /** A centred `modal` or a `drawer` from the side. @default 'modal' */
  variant?: 'modal' | 'drawer'
}

function Dialog({ activity, onClose, variant = 'modal' }: ActivityDetailsProps & { activity: Activity }) {
  const { format } = useActivityContext()
  const titleId = useId()
  const trap = useFocusTrap<HTMLDivElement>(onClose)
  const usage = activity.tokenUsage
  const cost = activity.cost
  const rows: [string, ReactNode][] = [
    ['Description', activity.description ?? NONE],
    ['Time taken', format.duration(activity.durationMs)],
    [
      'Token usage',
      usage
        ? `${format.number(usage.total)}${usage.input !== undefined || usage.output !== undefined ? ` (${format.number(usage.input ?? 0)} in, ${format.number(usage.output ?? 0)} out)` : ''}`
        : NONE,
    ],
  ]
  if (usage?.model) rows.push(['Model', usage.model])
  if (cost) rows.push(['Cost', cost.unpriced ? `Unknown (no price for ${usage?.model ?? 'this model'})` : format.cost(cost)])
  if (activity.status) rows.push(['Status', activity.error ? `${activity.status}: ${activity.error}` : activity.status])
  if (activity.userId) rows.push(['User', activity.userId])
  if (activity.sessionId) rows.push(['Session', activity.sessionId])
  return (
    <div className="ut ut-overlay" data-variant={variant} onClick={(event) => event.target === event.currentTarget && onClose()}>
      <div ref={trap.ref} className="ut-dialog" role="dialog" aria-modal="true" aria-labelledby={titleId} tabIndex={-1} onKeyDown={trap.onKeyDown}>
        <header className="ut-dialog-header">
          <h2 id={titleId}>
            {activity.activityType}
            <small>
              <time dateTime={activity.timestamp}>{format.timestamp(activity.timestamp)}</time>
            </small>
          </h2>
          <button type="button" className="ut-button ut-close" onClick={onClose} aria-label="Close details">
            ×
          </button>
        </header>
        <dl className="ut-facts">
          {rows.map(([term, value]) => (
            <div key={term}>
              <dt>{term}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
        <h3>Context</h3>
        <MetadataTree value={activity.context} />
        <h3>Metadata</h3>
        <MetadataTree value={activity.metadata} />
      </div>
    </div>
  )
}

/**
 * One activity in full — description, duration, tokens, cost, context and metadata as a tree — in
 * an accessible modal or drawer: focus moves in and stays in until it closes (Escape, the close
 * button, or a click outside), then returns to the button that opened it.
 */
export function ActivityDetails(props: ActivityDetailsProps) {
  // Keyed by id: another activity is a new dialog, with focus set up again.
  return props.activity ? <Dialog key={props.activity.id} {...props} activity={props.activity} /> : null
}
