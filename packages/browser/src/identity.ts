import { readLocal as read, writeLocal as write } from './local-storage'

/** A visit's session ends after this long without a tracked activity, as in Google Analytics. */
export const SESSION_TIMEOUT_MS = 30 * 60 * 1000

/** The `localStorage` keys (after the `usertracking:` prefix) holding the visitor's ids, and a link still to send. */
const KEYS = ['uid', 'aid', 'session', 'link']

/**
 * Who is being tracked: ids remembered in `localStorage` across visits (in memory when it is
 * blocked). Change them through the functions, which also store them.
 */
export interface Identity {
  /** The signed-in user set by `identify()`, if any. */
  userId: string | undefined
  /** The visitor's persistent anonymous id. */
  anonymousId: string
  /**
   * The ids an activity carries now: the user, the anonymous id and the session, which starts anew
   * after {@link SESSION_TIMEOUT_MS} without an activity.
   */
  ids(now?: number): { userId: string | undefined; anonymousId: string; sessionId: string }
  /** Remembers (or, with `undefined`, forgets) the signed-in user. */
  setUser(userId: string | undefined): void
}

/**
 * Reads (or creates, which writes it to `localStorage`) the visitor's identity. Call it only once
 * tracking is allowed: before consent nothing may be stored.
 *
 * @param newId - makes a new id (a UUIDv7) for an anonymous visitor or a session.
 */
export function createIdentity(newId: (nowMs?: number) => string): Identity {
  let sessionId = ''
  let lastSeen = 0
  const identity: Identity = {
    userId: read('uid') ?? undefined,
    anonymousId: read('aid') ?? '',
    ids(now = Date.now()) {
      // Read back every time so that tabs of one site share a session.
      const [storedId, storedAt] = (read('session') ?? '').split(' ')
      if (storedId && +storedAt! > lastSeen) {
        sessionId = storedId
        lastSeen = +storedAt!
      }
      if (!sessionId || now - lastSeen > SESSION_TIMEOUT_MS) sessionId = newId(now)
      lastSeen = now
      write('session', `${sessionId} ${now}`)
      return { userId: identity.userId, anonymousId: identity.anonymousId, sessionId }
    },
    setUser(userId) {
      write('uid', (identity.userId = userId))
    },
  }
  if (!identity.anonymousId) write('aid', (identity.anonymousId = newId()))
  return identity
}

/** Whether this browser holds an identity, i.e. was tracked on an earlier visit or in another tab. */
export function hasIdentity(): boolean {
  return read('aid') != null
}

/**
 * Removes the user, anonymous id and session from `localStorage`: on sign-out (`reset()`, which
 * then creates a new identity) and when consent is withdrawn.
 */
export function forgetIdentity(): void {
  for (const key of KEYS) write(key, undefined)
}
