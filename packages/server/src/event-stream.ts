import { matchesFilter, type Activity, type ActivityFilter } from '@usertracking/core'
import type { LiveEvent, LiveFeed } from './live-feed'

/** What one Server-Sent Events response needs. */
export interface EventStreamOptions {
  feed: LiveFeed
  filter: ActivityFilter
  lastEventId: string | undefined
  signal: AbortSignal
  heartbeatMs: number
  /** Events a slow client may fall behind by before it is disconnected (it then resumes). */
  maxQueuedEvents: number
  onOpen(): void
  onClose(): void
}

const encoder = new TextEncoder()

/**
 * A `text/event-stream` body: the activities the feed publishes that match `filter`, with `id:`
 * lines for `Last-Event-ID` resume, comment heartbeats so proxies keep the connection open, and an
 * `event: reset` when a resume cannot be served without a gap (the client should reload its list).
 */
export function eventStream(options: EventStreamOptions): ReadableStream<Uint8Array> {
  const { feed, filter } = options
  let cleanup: (() => void) | undefined
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let closed = false
        const send = (text: string) => {
          if (closed) return
          if ((controller.desiredSize ?? 1) <= -options.maxQueuedEvents) {
            // Too far behind: closing lets EventSource reconnect and resume from the backlog.
            finish()
            controller.close()
            return
          }
          controller.enqueue(encoder.encode(text))
        }
        const frame = (event: LiveEvent) => `id: ${feed.eventId(event)}\nevent: activity\ndata: ${JSON.stringify(event.activity satisfies Activity)}\n\n`
        const deliver = (events: LiveEvent[]) => {
          for (const event of events) if (matchesFilter(event.activity, filter)) send(frame(event))
        }
        // Subscribing and replaying happen in one synchronous turn, so no event falls between them.
        const disconnect = feed.connect(deliver)
        const heartbeat = setInterval(() => send(': heartbeat\n\n'), options.heartbeatMs)
        ;(heartbeat as { unref?: () => void }).unref?.()
        const onAbort = () => {
          finish()
          try {
            controller.close()
          } catch {
            // Already closed or cancelled by the reader.
          }
        }
        const finish = () => {
          if (closed) return
          closed = true
          disconnect()
          clearInterval(heartbeat)
          options.signal.removeEventListener('abort', onAbort)
          options.onClose()
        }
        cleanup = finish
        options.onOpen()
        send('retry: 3000\n: connected\n\n')
        if (options.lastEventId !== undefined) {
          const missed = feed.since(options.lastEventId)
          if (missed) deliver(missed)
          else send('event: reset\ndata: {}\n\n')
        }
        if (options.signal.aborted) onAbort()
        else options.signal.addEventListener('abort', onAbort)
      },
      cancel() {
        cleanup?.()
      },
    },
    new CountQueuingStrategy({ highWaterMark: 1 }),
  )
}
