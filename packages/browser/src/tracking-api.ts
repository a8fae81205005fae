import type { JsonObject } from '@usertracking/core'

/**
 * What `UserTracking` does in both builds: {@link UserTrackingApi} (the full build) adds `stats`
 * and `shutdown`; `LiteTrackingApi` is this with the lite options. Every method returns at once
 * and never throws.
 */
export interface TrackingApi<Options> {
  /**
   * Starts tracking, or changes settings at run time (options merge with the previous ones). In the
   * full build a later call hands what is pending over to a new tracker with the new settings (its
   * `stats()` start from zero); autocapture switches and properties apply at once.
   */
  config(options: Options): void
  /**
   * Records an activity: `track('custom_action', 'element-id', { custom_data: 'value' })`. The
   * element id goes to `context.element`, the data to `metadata`. Returns the activity's id, or
   * `undefined` when it was not recorded (before `config()`, without consent, Do Not Track,
   * invalid: see `debug`).
   */
  track(action: string, elementId?: string | JsonObject, data?: JsonObject): string | undefined
  /** Sets the signed-in user for this and later visits, and records an `identify` activity with `traits`. */
  identify(userId: string, traits?: JsonObject): void
  /** Forgets the user and starts a new anonymous id and session, e.g. on sign-out. */
  reset(): void
  /** Adds properties sent with every later activity of this page, in its `metadata` (see `options.properties`). */
  register(properties: JsonObject): void
  /**
   * Records the visitor's choice, remembered across visits. `true` lets tracking start (needed
   * once with `requireConsent`, and it outweighs Do Not Track and Global Privacy Control);
   * `false` stops it, discards every activity not yet sent (in memory, and in the full build in
   * IndexedDB) and removes the ids kept in `localStorage`.
   */
  consent(granted: boolean): void
  /**
   * Sends everything pending now. Resolves `true` once it is all delivered or given up on — in the
   * lite build, once the browser took it all by beacon — and `false` when some of it still waits
   * (offline, a retry, the browser's beacon quota).
   */
  flush(): Promise<boolean>
}
