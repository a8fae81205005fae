import type { ActivityInput } from '@usertracking/core'
import { captureClicks } from './autocapture'
import { mayTrack, writeConsent } from './consent'
import { guard, guardAll } from './guard'
import { createIdentity, forgetIdentity, type Identity } from './identity'
import { liteId } from './lite-id'
import type { LiteTrackingOptions, UserTrackingOptions } from './options'
import { onNavigation, pageContext, type Listen } from './page-events'
import { pageUrl } from './page-url'
import { pageViews, type PageViews } from './page-views'
import type { TrackingApi } from './tracking-api'

/** The lite browser tracker; see {@link UserTracking}: the full build's API without `stats` and `shutdown`. */
export type LiteTrackingApi = TrackingApi<LiteTrackingOptions>

/** Most activities waiting in memory; past it the oldest is dropped. */
const MAX_QUEUE = 1000
/**
 * Largest beacon body, in characters of JSON: at most three bytes each in UTF-8, so that it stays
 * under the 64 KB browsers allow a page to have in flight.
 */
const MAX_BODY = 20_000
/** Largest activity, in characters of JSON, so that one always fits a beacon. */
const MAX_ACTIVITY = 16_000

/**
 * Creates a lite browser tracker: page views, clicks, time on page and custom events, sent as
 * `{"activities": [...]}` (`text/plain`, like the full build) by `navigator.sendBeacon` — a second
 * after the first pending activity, when the page is hidden or closed, and on `flush()` — which the
 * browser delivers even after the page is gone. What it does not do that the full build does: hear
 * the endpoint's answer (a beacon the endpoint fails is lost, and one it refuses is not reported),
 * retry, keep anything in IndexedDB (what is pending when the page closes offline is lost),
 * coordinate tabs, capture forms and focus, count drops in `stats()`, or validate beyond the
 * activity type, JSON and size. Apps use the ready-made {@link UserTracking}.
 */
export function createLiteTracking(): LiteTrackingApi {
  let options: LiteTrackingOptions = {}
  // These exist only while tracking is allowed.
  let identity: Identity | undefined
  let listeners: AbortController | undefined
  let pages: PageViews | undefined
  let user: string | undefined
  /** Activities waiting, as their JSON: what is sent is exactly what was accepted. */
  let queue: string[] = []
  let timer: ReturnType<typeof setTimeout> | undefined

  const log = (message: string, error?: unknown) => {
    try {
      ;(options.debug === true ? console : options.debug || undefined)?.warn(`[usertracking] ${message}`, error)
    } catch {
      // A broken logger has nowhere left to report to.
    }
  }
  const report = (error: unknown) => log('Ignored an internal error.', error)
  const later = () => {
    timer ??= setTimeout(
      guard(() => {
        timer = undefined
        send()
      }, report),
      options.flushInterval ?? 1000,
    )
  }

  /**
   * Hands what is pending to the browser by beacon, in bodies it accepts, and returns whether it
   * took everything. A refused body (the page's 64 KB in flight are used up) waits for the next
   * round; nothing goes while offline, when a beacon would be accepted and then lost, nor once
   * consent was withdrawn in another tab.
   */
  const send = (): boolean => {
    if (!mayTrack(options)) withdraw()
    let chunk: string[] = []
    const beacon = () => {
      if (navigator.sendBeacon(options.endpoint!, body(chunk))) queue = queue.filter((activity) => !chunk.includes(activity))
      chunk = []
    }
    if (queue.length && navigator.onLine) {
      for (const activity of queue) {
        if (body([...chunk, activity]).length > MAX_BODY) beacon()
        chunk.push(activity)
      }
      beacon()
    }
    if (queue.length) later()
    return !queue.length
  }
  const body = (batch: string[]) => `{"activities":[${batch}]}`

  const record = (input: ActivityInput): string | undefined => {
    if (!identity) return undefined
    const id = liteId()
    let json = ''
    try {
      // What JSON cannot carry (a cycle, a BigInt) is refused now, not when sending.
      json = JSON.stringify({
        id,
        timestamp: new Date().toISOString(),
        ...identity.ids(),
        ...input,
        context: { ...pageContext(options), ...input.context },
        metadata: { ...options.properties, ...(input.metadata as object) },
      })
    } catch {
      // `json` stays empty.
    }
    // A string with something in it (a number has no `trim`), of at most 200 characters.
    const type = input.activityType
    if (!type?.trim?.() || type.length > 200 || !json || json.length > MAX_ACTIVITY) {
      log('Dropped: invalid.', input)
      return undefined
    }
    if (queue.push(json) > MAX_QUEUE) log('Dropped: queue full.', queue.shift())
    later()
    return id
  }

  // An empty id means none: the element then goes unnamed.
  const capture = (activityType: string, element: string | null | undefined, metadata?: Record<string, unknown>) =>
    record({ activityType, context: element ? { element } : undefined, metadata })

  // Hidden or going away: the visible time is reported, and what is pending goes now.
  const leave = () => {
    pages!.hide()
    send()
  }

  function start(): void {
    const signal = (listeners = new AbortController()).signal
    const listen: Listen = (target, type, handler) => target.addEventListener(type, guard(handler, report), { capture: true, signal })
    const enabled = (key: keyof UserTrackingOptions) => options[key as keyof LiteTrackingOptions] !== false
    pages = pageViews(record, enabled, (href) => pageUrl(href, options.keepQueryParameters))
    captureClicks(capture, enabled, listen)
    onNavigation(listen, () => pages!.visit())
    listen(document, 'visibilitychange', () => (document.visibilityState === 'hidden' ? leave() : pages!.show()))
    listen(window, 'pagehide', leave)
    listen(window, 'online', send)
    pages.visit()
  }

  function apply(): void {
    // On a server there is no `window`: what throws there is caught by the method's guard.
    if (!options.endpoint) return
    if (!mayTrack(options)) return withdraw(false)
    identity ??= createIdentity(liteId)
    if (user !== undefined) identity.setUser(user)
    user = undefined
    if (!listeners) start()
  }

  /** Stops tracking; with `forget`, also discards what is pending and the stored ids. */
  function withdraw(forget = true): void {
    listeners?.abort()
    listeners = identity = undefined
    if (forget) {
      queue = []
      forgetIdentity()
    }
  }

  return guardAll(
    {
      config(next) {
        options = { ...options, ...next }
        if (!options.endpoint) console.error('[usertracking] [browser] config() needs an endpoint.')
        if (next.userId !== undefined) user = String(next.userId)
        apply()
      },
      track(action, elementId, data) {
        return typeof elementId === 'object' ? capture(action, undefined, elementId) : capture(action, elementId, data)
      },
      identify(userId, traits) {
        user = String(userId)
        apply()
        capture('identify', undefined, traits)
      },
      reset() {
        user = undefined
        forgetIdentity()
        identity &&= createIdentity(liteId)
      },
      register(properties) {
        options = { ...options, properties: { ...options.properties, ...properties } }
      },
      consent(granted) {
        writeConsent(granted)
        if (granted) apply()
        else withdraw()
      },
      flush: async () => send(),
    } satisfies LiteTrackingApi,
    report,
  )
}

/**
 * The lite browser tracker, ready to `config()`; the lite script-tag build defines it as
 * `window.UserTracking`.
 *
 * ```ts
 * import { UserTracking } from '@usertracking/browser/lite'
 * UserTracking.config({ endpoint: '/api/activity' })
 * UserTracking.track('signup', 'cta', { plan: 'pro' })
 * ```
 */
export const UserTracking: LiteTrackingApi = /* @__PURE__ */ createLiteTracking()
