import type { Activity, Sink, SinkResult } from '@usertracking/core'
import { defaultStatusPolicy, parseRetryAfter } from '@usertracking/core'

/**
 * Browsers refuse a keepalive request once the bodies of all keepalive requests in flight from a
 * page pass 64 KiB (Fetch standard, "inflight keepalive bytes"); Chromium counts beacons against the
 * same quota. What goes out per request stays under it with room for the page's own requests.
 */
const KEEPALIVE_BYTES = 60_000
/**
 * Chromium frees a keepalive request's share of that quota a moment after its response, and the
 * next batch goes out at once: a request takes keepalive only when two such fit in the quota.
 */
const KEEPALIVE_FETCH_BYTES = KEEPALIVE_BYTES / 2

const noop = () => {}
const serialize = (batch: Activity[]) => JSON.stringify({ activities: batch })
const byteLength = (text: string) => new Blob([text]).size

/** A {@link Sink} that also hands activities to `navigator.sendBeacon` when the page goes away. */
export interface PageSink extends Sink {
  /**
   * Sends `activities` by beacon, split into bodies under 60 KB, skipping those already beaconed and
   * those of the keepalive request in flight (a second copy would cost the browser's keepalive
   * budget, and the request may still be acknowledged). Returns the ids the browser accepted by
   * beacon, which count as delivered: a later `write` of them succeeds without sending. The ids of
   * the request in flight are not among them: unacknowledged, they stay owed, and the next visit
   * sends them again if this page never hears back.
   */
  beacon(activities: Activity[]): string[]
}

/**
 * The browser's HTTP sink. A batch is POSTed as `{"activities": [...]}` with `fetch`, with
 * `keepalive` when the body is under 30 KB, so that it survives the page closing mid-request.
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
        const keepalive = byteLength(body) <= KEEPALIVE_FETCH_BYTES
        if (keepalive) keptAlive = rest.map((activity) => activity.id)
        try {
          const response = await fetch(endpoint(), { method: 'POST', body, keepalive, signal })
          // Unread, the body would hold the connection and the keepalive quota until collected.
          void response.body?.cancel().catch(noop)
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
      return sent
    },
  }
}
