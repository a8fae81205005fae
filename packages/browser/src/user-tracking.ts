import { createLogger, isPlainObject, smallUuidv7, type ActivityInput, type Logger, type TrackerStats } from '@usertracking/core'
import { autocapture } from './autocapture'
import { guard, guardAll } from './guard'
import { mayTrack, writeConsent } from './consent'
import { createIdentity, forgetIdentity, hasIdentity, type Identity } from './identity'
import { identifyUrl, markLink, sendLink } from './identity-link'
import { indexedDbStorage, type PageStorage } from './indexeddb-storage'
import { isOn, type UserTrackingOptions } from './options'
import { onNavigation, pageContext, type Listen } from './page-events'
import { pageSink, type PageSink } from './page-sink'
import { createPageDelivery, type PageDelivery } from './page-delivery'
import { pageUrl } from './page-url'
import { pageViews, type PageViews } from './page-views'
import type { TrackingApi } from './tracking-api'

/** The full browser tracker; see {@link UserTracking}. Every method returns at once and never throws. */
export interface UserTrackingApi extends TrackingApi<UserTrackingOptions> {
  /** The tracker's counters (queued, sent, failed, dropped, retried), or `undefined` while nothing is tracked. */
  stats(): TrackerStats | undefined
  /**
   * Removes every listener and stops the tracker after one last delivery of at most `timeoutMs`
   * (default 2000); what is still pending stays stored for the next visit.
   */
  shutdown(timeoutMs?: number): Promise<void>
}

/**
 * `own` over `base` when `own` is a plain object, `base` without `own`. Anything else (a string, an array)
 * goes on as given, so that the normaliser refuses it (`invalid`) rather than take its indexes as keys.
 */
const under = (base: object | undefined, own: unknown) => (isPlainObject(own) ? { ...base, ...own } : (own ?? base)) as Record<string, unknown>

/**
 * Creates a browser tracker. Apps use the ready-made {@link UserTracking}; a second instance is for
 * tests, or for reporting to two endpoints with separate settings.
 */
export function createUserTracking(): UserTrackingApi {
  let options: UserTrackingOptions = {}
  let log: Logger = createLogger(false)
  // Each of these exists only while tracking is allowed (after consent, without a respected signal).
  let tracker: PageDelivery | undefined
  let identity: Identity | undefined
  let listeners: AbortController | undefined
  let storage: PageStorage | undefined
  let sink: PageSink | undefined
  let pages: PageViews | undefined
  /** A user named while nothing may be stored yet, remembered once something may. */
  let user: string | undefined
  /**
   * Settles once every retired tracker has shut down (and written what it still held) and every
   * discard has landed: a new tracker loads the storage only then, so it never misses, nor
   * resurrects, what those left.
   */
  let retired: Promise<unknown> = Promise.resolve()
  let closed = false

  const report = (error: unknown) => log.error('Ignored an internal error.', error)

  // Under every activity the visitor's ids, the page and the properties; its own keys win.
  const record = (input: ActivityInput) =>
    tracker?.track({
      ...identity?.ids(),
      ...input,
      context: under({ ...pageContext(options), userAgent: navigator.userAgent }, input.context),
      metadata: under(options.properties, input.metadata),
    })

  // An empty id means none: the element then goes unnamed.
  const capture = (activityType: string, element: string | null | undefined, metadata?: Record<string, unknown>) =>
    record({ activityType, context: element ? { element } : undefined, metadata })

  // The page is hidden or going away: the visible time is reported, whatever is still pending goes
  // by beacon, the one request a browser promises to send after the page is gone, and what cannot
  // go (offline) and is not in IndexedDB yet is kept in localStorage for the next tab.
  const leave = () => {
    pages!.hide()
    const sent = options.endpoint && navigator.onLine !== false ? sink!.beacon(storage!.pending()) : []
    // Other sinks still owe delivery of what the beacon carried, so it stays stored for them.
    storage!.leave(options.sinks?.length ? [] : sent)
    void tracker!.flush()
  }

  function start(): void {
    const signal = (listeners = new AbortController()).signal
    const listen: Listen = (target, type, handler) => target.addEventListener(type, guard(handler, report), { capture: true, signal })
    const enabled = (key: keyof UserTrackingOptions) => isOn(options, key)
    pages = pageViews(record, enabled, (href) => pageUrl(href, options.keepQueryParameters))
    autocapture(capture, enabled, listen)
    onNavigation(listen, () => pages!.visit())
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
      if (navigator.onLine !== false) tracker!.resume()
    })
    listen(window, 'offline', () => tracker!.pause())
    listen(window, 'online', () => left || tracker!.resume())
    // Consent withdrawn in another tab applies here at once.
    listen(window, 'storage', () => mayTrack(options) || withdraw())
    pages.visit()
  }

  function replaceTracker(): void {
    const pageStorage = (storage ??= indexedDbStorage({ logger: { warn: (message, error) => log.warn(message, error) } }))
    sink ??= pageSink(() => options.endpoint ?? '')
    retire()
    const before = retired
    // The other delivery options (batchSize, flushInterval, debounceTime, maxRetries) have the delivery core's names.
    tracker = createPageDelivery({
      ...options,
      sinks: [...(options.endpoint ? [sink] : []), ...(options.sinks ?? [])],
      storage: { ...pageStorage, load: () => before.then(() => pageStorage.load()) },
      accepted: pageStorage.hold,
      logger: log,
    })
    if (navigator.onLine === false) tracker.pause()
  }

  /** Starts, updates or stops tracking as the options and the visitor's choice now say. */
  function apply(replace: boolean): void {
    if (typeof window === 'undefined' || closed || !(options.endpoint || options.sinks?.length)) return
    if (!mayTrack(options)) {
      log.debug('Not recording: no consent, or DNT / GPC.')
      stop()
      return
    }
    identity ??= createIdentity(smallUuidv7)
    const linkUrl = identifyUrl(options.endpoint, options.identifyEndpoint)
    if (user !== undefined && user !== identity.userId) {
      // A sign-in: what this visitor did anonymously becomes the user's once the server links them.
      if (linkUrl) markLink(identity.anonymousId)
      identity.setUser(user)
    }
    user = undefined
    if (linkUrl) void sendLink(linkUrl, log)
    if (!tracker || replace) {
      try {
        replaceTracker()
      } catch (error) {
        console.error(error)
        return
      }
    }
    if (!listeners) start()
  }

  /** Shuts the tracker down without another delivery (paused first); what is pending stays stored. */
  function retire(): void {
    tracker?.pause()
    const done = tracker?.shutdown({ timeoutMs: 0 })
    retired = retired.then(() => done)
    tracker = undefined
  }

  /** Removes the listeners and retires the tracker. */
  function stop(): void {
    listeners?.abort()
    listeners = undefined
    retire()
  }

  function withdraw(): void {
    const tracked = tracker || hasIdentity()
    stop()
    forgetIdentity()
    identity = undefined
    // Opened only if this visitor was ever tracked: otherwise there is nothing to discard, and
    // opening IndexedDB would create the database.
    if (tracked) {
      const pageStorage = (storage ??= indexedDbStorage())
      retired = retired.then(pageStorage.clear)
    }
  }

  const api: UserTrackingApi = {
    config(next) {
      options = { ...options, ...next }
      log = createLogger(options.debug)
      if (!options.endpoint && !options.sinks?.length) {
        // A misconfiguration shows whether or not debug is on; it is still never thrown.
        console.error('[usertracking] [browser] config() needs an endpoint (or sinks).')
        return
      }
      if (next.userId !== undefined) user = String(next.userId)
      apply(true)
    },
    track(action, elementId, data) {
      return typeof elementId === 'object' ? capture(action, undefined, elementId) : capture(action, elementId, data)
    },
    identify(userId, traits) {
      user = String(userId)
      apply(false)
      capture('identify', undefined, traits)
    },
    reset() {
      user = undefined
      forgetIdentity()
      identity &&= createIdentity(smallUuidv7)
    },
    register(properties) {
      options = { ...options, properties: { ...options.properties, ...properties } }
    },
    consent(granted) {
      writeConsent(granted)
      if (granted) apply(false)
      else withdraw()
    },
    async flush() {
      return tracker?.flush() ?? true
    },
    stats: () => tracker?.stats(),
    async shutdown(timeoutMs = 2000) {
      closed = true
      listeners?.abort()
      await tracker?.shutdown({ timeoutMs })
    },
  }
  // Methods that can throw only through a bug return undefined then; the others cannot throw.
  return guardAll(api, report)
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
