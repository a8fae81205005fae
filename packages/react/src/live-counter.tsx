import type { ActivityFilter } from '@usertracking/core'
import type { ReactNode } from 'react'
import { useActivityContext } from './context'
import { useLiveCount, type UseLiveCountOptions } from './use-live-count'

/** Props of {@link LiveCounter}. */
export interface LiveCounterProps extends UseLiveCountOptions {
  /** Which activities count. @default every activity */
  filter?: ActivityFilter
  /** The words around the number. @default "57 activities today" */
  label?: (count: string, value: number) => ReactNode
}

const defaultLabel = (count: string, value: number) => (
  <>
    <strong>{count}</strong> {value === 1 ? 'activity' : 'activities'} today
  </>
)

/** A social-proof counter that counts up live: "57 activities today". */
export function LiveCounter({ filter, label = defaultLabel, since }: LiveCounterProps) {
  const { format } = useActivityContext()
  const { count, live } = useLiveCount(filter, since ? { since } : {})
  return (
    <p className="ut ut-live-counter" data-connected={live.connected}>
      <span className="ut-live-dot" aria-hidden="true" />
      <span aria-live="polite" aria-atomic="true">
        {count === undefined ? <span className="ut-muted">…</span> : label(format.number(count), count)}
      </span>
    </p>
  )
}
