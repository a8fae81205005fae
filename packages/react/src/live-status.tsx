import type { LiveState } from '@usertracking/client'

const TEXT: Record<LiveState['status'], string> = { connecting: 'Connecting…', open: 'Live', reconnecting: 'Reconnecting…', closed: 'Not live' }

/** Props of {@link LiveStatus}. */
export interface LiveStatusProps {
  /** A live state, e.g. `useActivities(…).live`. */
  live: LiveState
}

/** A small "Live" badge saying whether new activities are arriving, with the reason when they are not. */
export function LiveStatus({ live }: LiveStatusProps) {
  return (
    <span className="ut ut-live" data-status={live.status} title={live.error?.message.replace(/^\[usertracking\] \[client\] /, '')}>
      <span className="ut-live-dot" aria-hidden="true" />
      {TEXT[live.status]}
    </span>
  )
}
