import type { JsonObject, Logger, Sink } from '@usertracking/core'

/**
 * Options of the lite build's `UserTracking.config` (`@usertracking/browser/lite`); the full build
 * takes all of them too ({@link UserTrackingOptions}). Every one can be changed by calling `config` again.
 */
export interface LiteTrackingOptions {
  /**
   * Where activities are POSTed as `{"activities": [...]}` with a `text/plain` body (so no CORS
   * preflight is needed), e.g. the server package's ingest handler at `/api/activity`.
   */
  endpoint?: string
  /** The signed-in user; the same as calling `identify(userId)`, without its `identify` activity. */
  userId?: string
  /** Sends `page_visit` on load and on single-page navigations. @default true */
  trackPageViews?: boolean
  /** Sends `button_click` for buttons, links, `[role=button]` and submit inputs. @default true */
  trackButtonClicks?: boolean
  /** Sends `time_on_page` with the time the page was visible, when it is hidden or left. @default true */
  trackTimeOnPage?: boolean
  /**
   * The longest an activity waits before its batch goes out, in milliseconds. @default 5000 in the
   * full build; 1000 in the lite build, which sends a beacon this long after the first activity
   * waiting (it has no `debounceTime`).
   */
  flushInterval?: number
  /** `true` logs what happens (and every dropped activity, with why) to the console; or a {@link Logger}. @default false */
  debug?: boolean | Logger
  /**
   * Records nothing, stores nothing (no id in `localStorage`, no IndexedDB) and sends nothing until
   * the visitor agrees: `UserTracking.consent(true)`, which is remembered across visits.
   * @default false — the site decides whether its analytics need consent (see docs/browser.md).
   */
  requireConsent?: boolean
  /**
   * Records nothing when the browser sends Do Not Track (`navigator.doNotTrack === '1'`), unless the
   * visitor granted consent on this site with `consent(true)`. @default false
   */
  respectDoNotTrack?: boolean
  /**
   * Records nothing when the browser sends Global Privacy Control (`navigator.globalPrivacyControl`),
   * unless the visitor granted consent on this site with `consent(true)`. @default false
   */
  respectGlobalPrivacyControl?: boolean
  /**
   * Properties sent with every activity, in its `metadata` (an activity's own metadata keys win).
   * `config({ properties })` replaces them; `register(properties)` adds to them. Kept for this page
   * only: set them on every load.
   */
  properties?: JsonObject
  /**
   * Query parameters kept in `context.url`; every other one is removed, and so is the `#fragment`,
   * because URLs carry tokens, e-mail addresses and reset codes. A name, or a prefix ending in `*`;
   * `['*']` keeps them all. The same applies to a `page_visit`'s `referrer`.
   * @default ['utm_*'] — campaign tags, which analytics need and which name no one.
   */
  keepQueryParameters?: string[]
}

/** Options of `UserTracking.config`. Every one can be changed by calling `config` again. */
export interface UserTrackingOptions extends LiteTrackingOptions {
  /** Sends `form_submit`, and `form_submit_error` when the browser's form validation blocks a submit. @default true */
  trackFormSubmissions?: boolean
  /** Sends `input_focus` with a field's id, name and type (never its value). @default false — one event per field is noisy. */
  trackInputFocus?: boolean
  /** A batch goes out this long after the last activity, in milliseconds. @default 500 */
  debounceTime?: number
  /** Retries of a failed batch before it is dropped. @default 10 */
  maxRetries?: number
  /**
   * Activities per request. @default 25 — about 15 KB of JSON, under the 30 KB that lets a request
   * use `keepalive` (and so survive the page being closed mid-request) beside another one.
   */
  batchSize?: number
  /** More places to deliver to, beside (or, without `endpoint`, instead of) the endpoint. */
  sinks?: Sink[]
  /**
   * Where a sign-in (`identify(userId)`, or a new `userId` in `config`) links the visitor's
   * anonymous id to the user, so that the server's store counts what they did before signing in as
   * theirs: a JSON `POST { anonymousId }` sent with the page's credentials, which the server
   * package's identify route checks against the signed-in user. `false` when the app's own server
   * links them. @default the endpoint's sibling `identify` (`/api/activity` → `/api/identify`)
   */
  identifyEndpoint?: string | false
}

/** Whether the autocapture switch `key` is on: each is, unless set to `false`, but `trackInputFocus`. */
export function isOn(options: UserTrackingOptions, key: keyof UserTrackingOptions): boolean {
  return (options[key] ?? key !== 'trackInputFocus') === true
}
