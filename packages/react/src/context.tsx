import type { ActivityClient } from '@usertracking/client'
import { createContext, useContext, useMemo, type ReactNode } from 'react'
import { createFormat, type Format } from './format'

interface ActivityContextValue {
  client: ActivityClient
  format: Format
}

const ActivityContext = createContext<ActivityContextValue | undefined>(undefined)

/** Props of {@link ActivityProvider}. */
export interface ActivityProviderProps {
  /** The client every hook and component below reads through (`createActivityClient(…)`). */
  client: ActivityClient
  /** BCP 47 locale of numbers and dates. @default the viewer's */
  locale?: string
  /** IANA time zone of timestamps. @default the viewer's */
  timeZone?: string
  children?: ReactNode
}

/**
 * Gives the hooks and components below it their client and formatting. Put it once around the
 * part of the app that shows activities.
 */
export function ActivityProvider({ client, locale, timeZone, children }: ActivityProviderProps) {
  const value = useMemo(() => ({ client, format: createFormat(locale, timeZone) }), [client, locale, timeZone])
  return <ActivityContext.Provider value={value}>{children}</ActivityContext.Provider>
}

/** The client and formatters of the nearest {@link ActivityProvider}. */
export function useActivityContext(): ActivityContextValue {
  const value = useContext(ActivityContext)
  if (!value) throw new Error('[usertracking] [react] Wrap the component in <ActivityProvider client={createActivityClient(…)}>.')
  return value
}
