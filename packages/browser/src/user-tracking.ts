import {
  createLogger,
  createCanonicalTracker,
  type Activity,
  type ActivityInput,
  type JsonObject,
  type Logger,
  type Tracker,
  type TrackerStats,
} from '@usertracking/core'
import { autocapture } from './autocapture'
import { createIdentity, type Identity } from './identity'
import { indexedDbStorage, type PageStorage } from './indexeddb-storage'
import { isOn, type UserTrackingOptions } from './options'
import { pageSink, type PageSink } from './page-sink'
import { pageViews, type PageViews } from './page-views'

/** The browser tracker; see {@link UserTracking}. Every method returns at once and never throws. */
export interface UserTrackingApi {
  /**
   * Starts tracking, or changes settings at run time (options merge with the previous ones). A
   * change to `endpoint`, `batchSize`, `flushInterval`, `debounceTime`, `maxRetries`, `debug` or
   * `sinks` hands what is pending over to a new tracker; autocapture switches apply at once.
   */
  config(options: UserTrackingOptions): void
  /**
   * Records an activity: `track('custom_action', 'element-id', { custom_data: 'value' })`. The
   * element id goes to `context.element`, the data to `metadata`. Returns the activity's id, or
   * `undefined` when it was not recorded (before `config()`, opted out, Do Not Track, invalid: see `debug`).
   */
  track(action: string, elementId?: string | JsonObject, data?: JsonObject): string | undefined
  /** Sets the signed-in user for this and later visits, and records an `identify` activity with `traits`. */
  identify(userId: string, traits?: JsonObject): void
  /** Forgets the user and starts a new anonymous id and session, e.g. on sign-out. */
  reset(): void
  /** Sends everything pending now; resolves `true` once it is all delivered (or given up on). */
  flush(): Promise<boolean>
  /** Stops recording for this visitor, remembered across visits. */
  optOut(): void
  /** Records again after {@link UserTrackingApi.optOut}. */
  optIn(): void
  /** The tracker's counters (queued, sent, failed, dropped, retried), or `undefined` before `config()`. */
  stats(): TrackerStats | undefined
  /**
   * Removes every listener and stops the tracker after one last delivery of at most `timeoutMs`
   * (default 2000); what is still pending stays stored for the next visit.
   */
  shutdown(timeoutMs?: number): Promise<void>
}

const NAVIGATE = 'usertracking:navigate'
const DELIVERY_KEYS = ['endpoint', 'batchSize', 'flushInterval', 'debounceTime', 'maxRetries', 'debug', 'sinks'] as const

let historyPatched = false

/** Single-page apps navigate through the History API, which fires no event of its own. */
function patchHistory(): void {
  if (historyPatched) return
  historyPatched = true
  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method]
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      original.apply(this, args)
      dispatchEvent(new Event(NAVIGATE))
    }
  }
}

/**
 * Creates a browser tracker. Apps use the ready-made {@link UserTracking}; a second instance is for
 * tests, or for reporting to two endpoints with separate settings.
 */
export function createUserTracking(): UserTrackingApi {
  let options: UserTrackingOptions = {}
  let log: Logger = createLogger(false)
  let tracker: Tracker | undefined
  let identity: Identity | undefined
  let storage: PageStorage | undefined
  let sink: PageSink | undefined
  let pages: PageViews | undefined
  let listeners: AbortController | undefined
  let stopped = false
  const me = () => (identity ??= createIdentity())
  const stop = () => {
    stopped = true
    listeners?.abort()
  }

  const guard =
    <A extends unknown[], R>(run: (...args: A) => R) =>
    (...args: A): R | undefined => {
      try {
        return run(...args)
      } catch (error) {
        // A tracking bug must never become the host page's bug.
        log.error('Ignored an internal error.', error)
        return undefined
      }
    }

  const record = (input: ActivityInput): string | undefined => {
    return identity?.optedOut || stopped ? undefined : tracker?.track(input)
  }

  // An empty id means none: the element then goes unnamed.
  const capture = (activityType: string, element: string | null | undefined, metadata?: Record<string, unknown>) =>
    record(element ? { activityType, context: { element }, metadata } : { activityType, metadata })

  // The page is hidden or going away: the visible time is reported, and whatever is still pending
  // goes by beacon, the one request a browser promises to send after the page is gone.
  const leave = guard(() => {
    pages?.hide()
    // Listeners exist only once a tracker, and with it the storage and the sink, does.
    if (options.endpoint && navigator.onLine !== false) {
      const sent = sink!.beacon(storage!.pending())
      // Other sinks still owe delivery of what the beacon carried, so it stays stored for them.
      if (!options.sinks?.length) storage!.forget(sent)
    }
    void tracker?.flush()
  })

  const listen = (target: EventTarget, type: string, handler: () => void) =>
    target.addEventListener(type, guard(handler), { signal: listeners!.signal })

  function start(): void {
    listeners = new AbortController()
    const enabled = (key: keyof UserTrackingOptions) => isOn(options, key)
    pages = pageViews(record, enabled)
    autocapture(guard(capture), enabled, listeners.signal)
    patchHistory()
    const visit = () => setTimeout(guard(() => pages!.visit()))
    for (const type of [NAVIGATE, 'popstate', 'hashchange']) listen(window, type, visit)
    listen(document, 'visibilitychange', () => (document.visibilityState === 'hidden' ? leave() : pages!.show()))
    // A page left while offline may live on for a moment and hear `online`; a fetch it started then
    // would race the tab that takes its stored activities over, so it stays paused until shown again.
    let left = false
    listen(window, 'pagehide', () => {
      left = true
      leave()
    })
    listen(window, 'pageshow', () => {
      left = false
      if (navigator.onLine !== false) tracker?.resume()
    })
    listen(window, 'offline', () => tracker?.pause())
    listen(window, 'online', () => left || tracker?.resume())
    pages.visit()
  }

  function replaceTracker(): void {
    const pageStorage = (storage ??= indexedDbStorage({ logger: { warn: (message, error) => log.warn(message, error) } }))
    sink ??= pageSink(() => options.endpoint ?? '')
    if (tracker) pageStorage.after(tracker.shutdown({ timeoutMs: 0 }))
    const self = me()
    // The other delivery options (flushInterval, debounceTime, maxRetries, debug) have the tracker's names.
    tracker = createCanonicalTracker({
      ...options,
      sinks: [...(options.endpoint ? [sink] : []), ...(options.sinks ?? [])],
      storage: pageStorage,
      batchSize: options.batchSize ?? 25,
      defaults: () => ({
        userId: self.userId,
        anonymousId: self.anonymousId,
        sessionId: self.session(),
        context: { page: location.pathname, userAgent: navigator.userAgent },
      }),
      beforeSend: (activity: Activity) => (pageStorage.hold(activity), activity),
    })
    if (navigator.onLine === false) tracker.pause()
  }

  const api: UserTrackingApi = {
    config(next) {
      const before = options
      options = { ...options, ...next }
      log = createLogger(options.debug)
      if (typeof window === 'undefined' || stopped) return
      if (options.respectDoNotTrack && navigator.doNotTrack === '1') {
        log.debug('Do Not Track is set; nothing is tracked.')
        stop()
        return
      }
      if (!options.endpoint && !options.sinks?.length) {
        // A misconfiguration shows whether or not debug is on; it is still never thrown.
        console.error('[usertracking] [browser] config() needs an endpoint (or sinks).')
        return
      }
      if (next.userId !== undefined) me().setUser(String(next.userId))
      if (!tracker || DELIVERY_KEYS.some((key) => options[key] !== before[key])) {
        try {
          replaceTracker()
        } catch (error) {
          console.error(error)
          return
        }
      }
      if (!listeners) start()
    },
    track(action, elementId, data) {
      return typeof elementId === 'object' ? capture(action, undefined, elementId) : capture(action, elementId, data)
    },
    identify(userId, traits) {
      identity?.setUser(String(userId))
      capture('identify', undefined, traits)
    },
    reset() {
      identity?.reset()
    },
    flush: () => tracker?.flush() ?? Promise.resolve(true),
    optOut: () => me().setOptOut(true),
    optIn: () => me().setOptOut(false),
    stats: () => tracker?.stats(),
    async shutdown(timeoutMs = 2000) {
      stop()
      await tracker?.shutdown({ timeoutMs })
    },
  }
  // Methods that can throw only through a bug return undefined then; the others cannot throw.
  for (const [name, method] of Object.entries(api)) (api as unknown as Record<string, unknown>)[name] = guard(method)
  return api
}

/**
 * The browser tracker, ready to `config()`; the script-tag build defines it as `window.UserTracking`.
 *
 * ```ts
 * import { UserTracking } from '@usertracking/browser'
 * UserTracking.config({ endpoint: '/api/activity', trackInputFocus: true })
 * UserTracking.track('custom_action', 'element-id', { custom_data: 'value' })
 * ```
 */
export const UserTracking: UserTrackingApi = /* @__PURE__ */ createUserTracking()
