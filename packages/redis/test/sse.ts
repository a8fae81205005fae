import type { Activity } from '@usertracking/core'
import { EventSource } from 'eventsource'

/** A live stream as a browser's EventSource reads it. */
export interface LiveStream {
  /** Activities in the order they arrived. */
  activities: Activity[]
  /** The `id:` of the last event, for `Last-Event-ID`. */
  lastEventId: string
  /** Event types other than `activity` that arrived (`reset`). */
  others: string[]
  /** Resolves once an activity with this id arrived; rejects after `timeoutMs`. */
  waitFor(id: string, timeoutMs?: number): Promise<void>
  close(): void
}

/**
 * Opens `GET /api/activities/stream` with the real `eventsource` client, signed in as `token`,
 * resuming after `lastEventId` when given. Resolves once the stream is open.
 */
export async function openLiveStream(baseUrl: string, token: string, lastEventId?: string): Promise<LiveStream> {
  const url = new URL('/api/activities/stream', baseUrl)
  if (lastEventId) url.searchParams.set('lastEventId', lastEventId)
  const source = new EventSource(url, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } }),
  })
  const stream: LiveStream = {
    activities: [],
    lastEventId: '',
    others: [],
    async waitFor(id, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      while (!stream.activities.some((activity) => activity.id === id)) {
        if (Date.now() > deadline) throw new Error(`The live stream at ${baseUrl} did not deliver ${id} within ${timeoutMs} ms.`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    },
    close: () => source.close(),
  }
  source.addEventListener('activity', (event) => {
    stream.activities.push(JSON.parse(event.data) as Activity)
    stream.lastEventId = event.lastEventId
  })
  source.addEventListener('reset', () => stream.others.push('reset'))
  await new Promise<void>((resolve, reject) => {
    source.addEventListener('open', () => resolve(), { once: true })
    source.addEventListener('error', (event) => reject(new Error(`The live stream at ${url} failed to open: ${event.message ?? 'error'}`)), { once: true })
  })
  return stream
}
