import type { Access } from './auth'
import { queryError } from './errors'
import { eventStream } from './event-stream'
import type { LiveFeed } from './live-feed'
import type { HandlerMetrics } from './metrics'
import { parseStreamQuery, type QueryOptions } from './query'

/** What the live stream route needs from its handler. */
export interface LiveStreamDependencies {
  access: Access
  feed: LiveFeed
  metrics: HandlerMetrics
  query: QueryOptions
  heartbeatMs: number
}

/** Events a slow client may fall behind by before it is disconnected (it then resumes from the backlog). */
const MAX_QUEUED_EVENTS = 10_000

/**
 * The live stream route: Server-Sent Events of new activities the principal may see, resumable
 * with `Last-Event-ID`. Returns the route and `close`, which ends every open stream.
 */
export function createLiveStreamRoute(deps: LiveStreamDependencies): { route: (request: Request, url: URL) => Promise<Response>; close(): void } {
  const streams = new Set<AbortController>()
  return {
    async route(request, url) {
      const principal = await deps.access.reader(request)
      const parsed = parseStreamQuery(url.searchParams, deps.query)
      if (!parsed.ok) throw queryError(parsed.issues)
      const controller = new AbortController()
      const abort = () => controller.abort()
      request.signal.addEventListener('abort', abort)
      streams.add(controller)
      const lastEventId = request.headers.get('last-event-id') ?? url.searchParams.get('lastEventId') ?? undefined
      const body = eventStream({
        feed: deps.feed,
        filter: deps.access.scope(parsed.query, principal),
        lastEventId: lastEventId || undefined,
        signal: controller.signal,
        heartbeatMs: deps.heartbeatMs,
        maxQueuedEvents: MAX_QUEUED_EVENTS,
        onOpen: () => deps.metrics.streamOpened(1),
        onClose: () => {
          streams.delete(controller)
          request.signal.removeEventListener('abort', abort)
          deps.metrics.streamOpened(-1)
        },
      })
      return new Response(body, {
        headers: {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          // nginx buffers proxied responses unless told otherwise, which would hold events back.
          'x-accel-buffering': 'no',
        },
      })
    },
    close() {
      for (const controller of streams) controller.abort()
      streams.clear()
    },
  }
}
