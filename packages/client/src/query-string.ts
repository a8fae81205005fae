import type { ActivityFilter } from '@usertracking/core'

/** A query parameter value; `undefined` leaves the parameter out, an array repeats it. */
type ParamValue = string | number | boolean | Date | readonly string[] | undefined

function text(value: string | number | boolean | Date): string {
  return value instanceof Date ? value.toISOString() : String(value)
}

/**
 * The query string of a request: only the parameters that are set, in a stable order. The server
 * refuses parameters it does not know, so nothing is sent "just in case".
 */
export function queryString(params: Record<string, ParamValue>): string {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === '') continue
    if (Array.isArray(value)) for (const each of value) search.append(name, each)
    else search.append(name, text(value as string | number | boolean | Date))
  }
  const result = search.toString()
  return result ? `?${result}` : ''
}

/** The parameters of an {@link ActivityFilter}, named as the server reads them. */
export function filterParams(filter: ActivityFilter): Record<string, ParamValue> {
  return {
    userId: filter.userId,
    anonymousId: filter.anonymousId,
    sessionId: filter.sessionId,
    activityType: filter.activityType,
    from: filter.from,
    to: filter.to,
    receivedFrom: filter.receivedFrom,
    receivedTo: filter.receivedTo,
    minTokens: filter.minTokens,
    maxTokens: filter.maxTokens,
    status: filter.status,
  }
}
