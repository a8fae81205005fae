import { readLocal, writeLocal } from './local-storage'
import type { LiteTrackingOptions } from './options'

/** The `localStorage` key (after the `usertracking:` prefix) of the visitor's choice: `1` or `0`. */
export const CONSENT_KEY = 'consent'

/**
 * Remembers the visitor's choice. Also written before any consent: a refusal must outlive the page,
 * and keeping it is what the visitor asked for.
 */
export function writeConsent(granted: boolean): void {
  writeLocal(CONSENT_KEY, granted ? '1' : '0')
}

/**
 * Whether anything may be recorded now. A refusal always wins; an explicit grant on this site
 * (`consent(true)`, the visitor's specific choice) wins over the browser-wide Do Not Track and
 * Global Privacy Control signals, which count only when the options ask for them.
 */
export function mayTrack(options: LiteTrackingOptions): boolean {
  // The visitor's remembered choice: `1` granted, `0` refused, absent when not asked yet.
  const consent = readLocal(CONSENT_KEY)
  return consent
    ? consent === '1'
    : !(
      options.requireConsent ||
      (options.respectDoNotTrack && navigator.doNotTrack === '1') ||
      (options.respectGlobalPrivacyControl && (navigator as { globalPrivacyControl?: boolean }).globalPrivacyControl === true)
    )
}
