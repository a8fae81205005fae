import type { Logger } from '@usertracking/core'
import { readLocal, writeLocal } from './local-storage'

/** The `localStorage` key (after the prefix) holding an anonymous id still to be linked to the user. */
const LINK_KEY = 'link'
/** Bound of the link request, in milliseconds: an unanswered one is tried again on the next page. */
const LINK_TIMEOUT_MS = 10_000

/**
 * The URL of the server's identify route: `identifyEndpoint` when set, else the `identify` sibling
 * of the ingest `endpoint` (`/api/activity` → `/api/identify`, the server package's default
 * routes); undefined without either, or with `identifyEndpoint: false`.
 */
export function identifyUrl(endpoint: string | undefined, identifyEndpoint: string | false | undefined): string | undefined {
  if (identifyEndpoint !== undefined) return identifyEndpoint || undefined
  try {
    return endpoint && new URL('identify', new URL(endpoint, location.href)).href
  } catch {
    // An endpoint no URL can be made of: its own requests fail and are reported; nothing to link to.
  }
}

/**
 * Remembers that `anonymousId` must be linked to the user who just signed in: kept in
 * `localStorage` until the server has answered, so a sign-in on a page closed at once, or while
 * offline, is linked on the next page.
 */
export function markLink(anonymousId: string): void {
  writeLocal(LINK_KEY, anonymousId)
}

/**
 * Sends the pending link, if any: `POST url` with `{"anonymousId": …}` as JSON and the page's
 * credentials (the session cookie the server's `authenticate` reads). A 2xx, or a 4xx (not signed
 * in, no such route: asking again would not help), settles it; a network failure, a timeout or a
 * 5xx leaves it for the next page. Never rejects; failures go to the debug log.
 */
export async function sendLink(url: string, log: Logger): Promise<void> {
  const anonymousId = readLocal(LINK_KEY)
  if (!anonymousId) return
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ anonymousId }),
      credentials: 'include',
      // No keepalive: a request cut short by the page going away leaves the link pending for the next page.
      signal: AbortSignal.timeout(LINK_TIMEOUT_MS),
    })
    // A 5xx is asked again on the next page; any other answer settles it (unless a sign-out or
    // another sign-in replaced what was pending meanwhile).
    if (response.status < 500 && readLocal(LINK_KEY) === anonymousId) writeLocal(LINK_KEY, undefined)
    if (!response.ok) throw response.status
  } catch (error) {
    log.warn('identify: not linked', error)
  }
}
