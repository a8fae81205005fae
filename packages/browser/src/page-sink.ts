import type { Activity, Sink, SinkResult } from '@usertracking/core'
import { defaultStatusPolicy, parseRetryAfter } from '@usertracking/core'

/**
 * Browsers refuse a keepalive request once the bodies of all keepalive requests in flight from a
 * page pass 64 KiB (Fetch standard, "inflight keepalive bytes"); Chromium counts beacons against the
 * same quota. What goes out per request stays under it with room for the page's own requests.
 */
const KEEPALIVE_BYTES = 60_000

const serialize = (batch: Activity[]) => JSON.stringify({ activities: batch })
const byteLength = (text: string) => new Blob([text]).size

/** A {@link Sink} that also hands activities to `navigator.sendBeacon` when the page goes away. */
export interface PageSink extends Sink {
  /**
   * Sends `activities` by beacon, split into bodies under 60 KB, skipping those already beaconed or
   * in a keepalive request still in flight. Returns the ids the browser now owes delivery of, as far
   * as this page can tell: those it accepted by beacon (a later `write` of them succeeds without
   * sending), and those of the keepalive request in flight, which the browser completes after the
   * page is gone without the page hearing of it (a retry while the page lives still sends them).
   */
  beacon(activities: Activity[]): string[]
}

/**
 * The browser's HTTP sink. A batch is POSTed as `{"activities": [...]}` with `fetch`, with
 * `keepalive` when it fits the browser's budget so that it survives the page closing mid-request.
 * The body goes as `text/plain` (a string body's default), which keeps every request, beacons
 * included, a CORS-simple request: a beacon that would need a preflight is silently dropped.
 * Status codes map to results by core's `defaultStatusPolicy`, as in `httpSink`.
 *
 * @param endpoint - returns the URL to POST to (absolute, or relative to the page); read per request.
 */
export function pageSink(endpoint: () => string): PageSink {
  const beaconed = new Set<string>()
  let keptAlive: string[] = []
  return {
    name: 'page',
    async write(batch, { signal }) {
      const rest = batch.filter((activity) => !beaconed.has(activity.id))
      let result: SinkResult = { type: 'success' }
      if (rest.length > 0) {
        const body = serialize(rest)
        const keepalive = byteLength(body) <= KEEPALIVE_BYTES
        if (keepalive) keptAlive = rest.map((activity) => activity.id)
        try {
          const response = await fetch(endpoint(), { method: 'POST', body, keepalive, signal })
          // core's status policy, whose names are SinkResult types; Retry-After is honoured when retryable.
          result = {
            type: defaultStatusPolicy(response.status),
            retryInMs: parseRetryAfter(response.headers.get('retry-after')),
            error: new Error(`HTTP ${response.status}`),
          } as SinkResult
        } catch (error) {
          result = { type: 'retryable', error }
        }
        keptAlive = []
      }
      // Settled for good: the tracker never writes these again, so the set stays small.
      if (result.type === 'success') for (const activity of batch) beaconed.delete(activity.id)
      return result
    },
    beacon(activities) {
      const sent: string[] = []
      let chunk: Activity[] = []
      let size = 0
      const send = () => {
        if (chunk.length > 0 && navigator.sendBeacon?.(endpoint(), serialize(chunk))) {
          for (const activity of chunk) {
            beaconed.add(activity.id)
            sent.push(activity.id)
          }
        }
        chunk = []
        size = 20
      }
      send()
      for (const activity of activities) {
        if (beaconed.has(activity.id) || keptAlive.includes(activity.id)) continue
        const bytes = byteLength(JSON.stringify(activity)) + 1
        if (size + bytes > KEEPALIVE_BYTES) send()
        chunk.push(activity)
        size += bytes
      }
      send()
      return sent.concat(keptAlive)
    },
  }
}
