import { uuidv7 } from '@usertracking/core'
import { readLocal as read, writeLocal as write } from './local-storage'

/** A visit's session ends after this long without a tracked activity, as in Google Analytics. */
export const SESSION_TIMEOUT_MS = 30 * 60 * 1000

/** Who is being tracked: ids remembered in `localStorage` across visits, and the opt-out flag. */
export interface Identity {
  /** The signed-in user set by `identify()`, if any. */
  readonly userId: string | undefined
  /** The visitor's persistent anonymous id. */
  readonly anonymousId: string
  /** The current session id; starts a new session after {@link SESSION_TIMEOUT_MS} of inactivity. */
  session(now?: number): string
  /** Remembers (or, with `undefined`, forgets) the signed-in user. */
  setUser(userId: string | undefined): void
  /** Forgets the user and starts a new anonymous id and session, e.g. on sign-out. */
  reset(): void
  /** Whether the visitor opted out. */
  readonly optedOut: boolean
  /** Remembers an opt-out (`true`) or opt-in (`false`). */
  setOptOut(optedOut: boolean): void
}

/** Reads (or creates) the visitor's identity from `localStorage`, falling back to memory. */
export function createIdentity(): Identity {
  let userId = read('uid') ?? undefined
  let anonymousId = read('aid') ?? ''
  let sessionId = ''
  let lastSeen = 0
  let optedOut = read('optout') === '1'
  if (!anonymousId) write('aid', (anonymousId = uuidv7()))

  return {
    get userId() {
      return userId
    },
    get anonymousId() {
      return anonymousId
    },
    session(now = Date.now()) {
      // Read back every time so that tabs of one site share a session.
      const [storedId, storedAt] = (read('session') ?? '').split(' ')
      if (storedId && Number(storedAt) > lastSeen) {
        sessionId = storedId
        lastSeen = Number(storedAt)
      }
      if (!sessionId || now - lastSeen > SESSION_TIMEOUT_MS) sessionId = uuidv7(now)
      lastSeen = now
      write('session', `${sessionId} ${now}`)
      return sessionId
    },
    setUser(id) {
      write('uid', (userId = id))
    },
    reset() {
      write('uid', (userId = undefined))
      write('aid', (anonymousId = uuidv7()))
      sessionId = ''
      write('session', undefined)
    },
    get optedOut() {
      return optedOut
    },
    setOptOut(value) {
      write('optout', (optedOut = value) ? '1' : undefined)
    },
  }
}
