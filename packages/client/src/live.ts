import type { Activity } from '@usertracking/core'
import { ActivityClientError } from './errors'

/**
 * The part of `EventSource` the client uses: the browser's own, or the `eventsource` npm package
 * (Node, or browsers when the stream needs request headers: pass its class as
 * `options.EventSource`, and the client hands it a `fetch` that adds them).
 */
export interface EventSourceLike {
  /** 0 connecting, 1 open, 2 closed for good (the browser gave up reconnecting). */
  readonly readyState: number
  // `any`: the browser's and the package's listener types differ; each listener below names its event's shape.
  addEventListener(type: string, listener: (event: any) => void): void
  close(): void
}

/** What the client passes to an {@link EventSourceLike} constructor. */
export interface EventSourceInit {
  withCredentials?: boolean
  /** Read by the `eventsource` npm package (ignored by browsers): the fetch that adds `options.headers`. */
  fetch?: typeof fetch
}

/** A class like the browser's `EventSource`. */
export type EventSourceConstructor = new (url: string, init?: EventSourceInit) => EventSourceLike

/**
 * Where a live subscription stands, for a UI: `connecting` (first connection, show a spinner),
 * `open` (connected: new activities arrive), `reconnecting` (lost, retrying by itself; `error` says
 * why when known) or `closed` (by `close()`, or for good after an answer retrying cannot fix, such
 * as 401 or 403: `error` says which).
 */
export interface LiveState {
  status: 'connecting' | 'open' | 'reconnecting' | 'closed'
  /** `status === 'open'`. */
  connected: boolean
  error?: ActivityClientError
}

/** Callbacks of one live subscription besides the activities. */
export interface LiveOptions {
  /** Called on every change of {@link LiveState}. */
  onState?: (state: LiveState) => void
  /**
   * What was missed while disconnected cannot be replayed (too long away, the server restarted,
   * or no event had arrived yet to resume after): lists on screen may lack rows and should be
   * reloaded.
   */
  onReset?: () => void
}

/** A running live subscription. */
export interface LiveSubscription {
  /** The current state; {@link LiveOptions.onState} reports each change. */
  readonly state: LiveState
  /** Stops the callbacks; the connection closes when no other subscription shares it. Safe to call twice. */
  close(): void
}

/** Timing of live connections, in ms; see `ActivityClientOptions.live`. */
export interface LiveTiming {
  /** First delay cap before reconnecting a stream the browser gave up on; doubles per attempt, full jitter. @default 1000 */
  reconnectBaseMs?: number
  /** Largest delay between reconnection attempts. @default 30000 */
  reconnectMaxMs?: number
  /** A connection not open after this long is dropped and retried (the server greets at once). @default 30000 */
  openTimeoutMs?: number
}

interface Subscriber {
  onActivity: (activity: Activity) => void
  options: LiveOptions
}

/** Ids remembered per connection to drop an activity delivered twice (after a resume). */
const SEEN_IDS = 2000

/** Statuses a reconnection cannot fix: the request itself is refused. */
const isFinal = (status: number) => status >= 400 && status < 500 && status !== 408 && status !== 429

/**
 * One EventSource per stream URL, shared by every subscription to it: a dashboard showing a list,
 * stats and a counter over one filter holds one connection, not three (browsers allow six per
 * origin over HTTP/1.1). It reconnects with backoff when the browser gives up, resuming after the
 * last event it saw, and drops activities it already delivered.
 */
export function createLiveHub(
  EventSourceClass: EventSourceConstructor | undefined,
  init: EventSourceInit,
  timing: LiveTiming,
  onError: (error: unknown) => void,
) {
  const baseMs = timing.reconnectBaseMs ?? 1000
  const maxMs = timing.reconnectMaxMs ?? 30_000
  const openTimeoutMs = timing.openTimeoutMs ?? 30_000
  const connections = new Map<string, ReturnType<typeof connection>>()

  function connection(url: string) {
    const subscribers = new Set<Subscriber>()
    const seen = new Set<string>()
    let state: LiveState = { status: 'connecting', connected: false }
    let source: EventSourceLike | undefined
    let lastEventId: string | undefined
    let attempt = 0
    let opened = false
    let timer: ReturnType<typeof setTimeout> | undefined

    const each = (call: (subscriber: Subscriber) => void) => {
      for (const subscriber of [...subscribers]) {
        try {
          call(subscriber)
        } catch (error) {
          onError(error)
        }
      }
    }
    const setState = (next: LiveState) => {
      state = next
      each((subscriber) => subscriber.options.onState?.(next))
    }
    const stop = () => {
      clearTimeout(timer)
      source?.close()
      source = undefined
    }
    const retry = (error: ActivityClientError) => {
      stop()
      setState({ status: 'reconnecting', connected: false, error })
      // Core's backoffDelay (full jitter) in one line: importing it would also bundle core's
      // module-level tables (uuid's), about 250 B gzipped for every page that shows activities.
      timer = setTimeout(open, Math.random() * Math.min(maxMs, baseMs * 2 ** attempt++))
    }

    function open() {
      if (!EventSourceClass) {
        setState({ status: 'closed', connected: false, error: new ActivityClientError('No EventSource here: pass options.EventSource (the `eventsource` package in Node).', 0) })
        return
      }
      // A new EventSource cannot set Last-Event-ID itself; the server reads the same from the query.
      const resumeUrl = lastEventId === undefined ? url : `${url}${url.includes('?') ? '&' : '?'}lastEventId=${encodeURIComponent(lastEventId)}`
      const current = new EventSourceClass(resumeUrl, init)
      source = current
      timer = setTimeout(() => retry(new ActivityClientError(`The live stream did not open within ${openTimeoutMs} ms.`, 0)), openTimeoutMs)
      current.addEventListener('open', () => {
        clearTimeout(timer)
        attempt = 0
        const reopened = opened
        opened = true
        setState({ status: 'open', connected: true })
        // Without an event id to resume from, the server cannot replay the gap nor say there was one.
        if (reopened && lastEventId === undefined) each((subscriber) => subscriber.options.onReset?.())
      })
      current.addEventListener('error', (event: { code?: number; message?: string }) => {
        if (source !== current) return
        const status = event.code ?? 0
        const error = new ActivityClientError(`The live stream failed${status ? ` with ${status}` : ''}${event.message ? `: ${event.message}` : '.'}`, status)
        // Still connecting: the EventSource retries by itself (a dropped connection, a restart).
        if (current.readyState === 0) setState({ status: 'reconnecting', connected: false, error })
        else if (isFinal(status)) {
          stop()
          setState({ status: 'closed', connected: false, error })
        } else retry(error)
      })
      current.addEventListener('activity', (event: { data: string; lastEventId?: string }) => {
        if (event.lastEventId) lastEventId = event.lastEventId
        let activity: Activity
        try {
          activity = JSON.parse(event.data) as Activity
        } catch (error) {
          onError(error)
          return
        }
        if (seen.has(activity.id)) return
        seen.add(activity.id)
        // A Set iterates in insertion order: the first entry is the oldest.
        if (seen.size > SEEN_IDS) seen.delete(seen.values().next().value!)
        each((subscriber) => subscriber.onActivity(activity))
      })
      current.addEventListener('reset', () => each((subscriber) => subscriber.options.onReset?.()))
    }

    return {
      get state() {
        return state
      },
      add(subscriber: Subscriber) {
        subscribers.add(subscriber)
        if (subscribers.size === 1) open()
      },
      remove(subscriber: Subscriber) {
        if (!subscribers.delete(subscriber) || subscribers.size > 0) return
        stop()
        connections.delete(url)
      },
    }
  }

  return (url: string, onActivity: (activity: Activity) => void, options: LiveOptions = {}): LiveSubscription => {
    let shared = connections.get(url)
    if (!shared) connections.set(url, (shared = connection(url)))
    const subscriber: Subscriber = { onActivity, options }
    const owner = shared
    owner.add(subscriber)
    let closed = false
    return {
      get state(): LiveState {
        return closed ? { status: 'closed', connected: false } : owner.state
      },
      close() {
        if (closed) return
        closed = true
        owner.remove(subscriber)
      },
    }
  }
}
