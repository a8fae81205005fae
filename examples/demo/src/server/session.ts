import { createHmac, timingSafeEqual } from 'node:crypto'
import { parseCookie, stringifySetCookie } from 'cookie'
import type { Principal } from '@usertracking/server'
import { DEFAULT_USER_ID, DEMO_USERS, demoUser, type DemoUser } from './demo-users'
import { json, readJson } from './json'

/** The demo's sign-in cookie: a user id and its HMAC, so a visitor cannot make one up. */
export const SESSION_COOKIE = 'demo_session'
/** The cookie's id for a visitor who signed out: present, so a page load does not sign them back in. */
const SIGNED_OUT = 'anonymous'
const MAX_AGE_SECONDS = 30 * 86_400

/** Demo sign-in: who a request is from, read from a signed cookie, and the routes that switch user. */
export interface Sessions {
  /** The signed-in user of a request, if its cookie is valid. */
  userOf(request: Request): DemoUser | undefined
  /** What the activity handler's `authenticate` returns: the user as a principal, or `null` (anonymous). */
  authenticate(request: Request): Principal | null
  /** A `Set-Cookie` value for a request without a valid cookie (a fresh browser signs in as the default user), else undefined. */
  defaultCookie(cookieHeader: string | undefined): string | undefined
  /** `GET /demo/session` (who am I, and who can I be) and `POST /demo/session` with `{ userId }` (switch; `null` signs out). */
  route(request: Request): Promise<Response>
}

/**
 * Sessions signed with `secret`. A real app's `authenticate` reads its own session (a signed cookie,
 * a JWT); this one shows the shape: a cookie the browser sends with every same-origin `fetch`,
 * beacon and `EventSource`, turned into `{ userId, admin }`.
 */
export function createSessions(secret: Uint8Array): Sessions {
  const mac = (id: string) => createHmac('sha256', secret).update(id).digest('base64url')
  const cookie = (id: string) => stringifySetCookie(SESSION_COOKIE, `${id}.${mac(id)}`, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: MAX_AGE_SECONDS })

  /** The id in a cookie whose signature holds, else undefined. */
  function verified(cookieHeader: string | null | undefined): string | undefined {
    const value = cookieHeader ? parseCookie(cookieHeader)[SESSION_COOKIE] : undefined
    const dot = value?.lastIndexOf('.') ?? -1
    if (!value || dot < 1) return undefined
    const id = value.slice(0, dot)
    const given = Buffer.from(value.slice(dot + 1))
    const expected = Buffer.from(mac(id))
    return given.length === expected.length && timingSafeEqual(given, expected) ? id : undefined
  }

  const userOf = (request: Request) => demoUser(verified(request.headers.get('cookie')))
  const state = (user: DemoUser | undefined) => ({ user: user ?? null, users: DEMO_USERS })

  return {
    userOf,
    authenticate(request) {
      const user = userOf(request)
      return user ? { userId: user.id, admin: user.admin } : null
    },
    defaultCookie: (cookieHeader) => (verified(cookieHeader) === undefined ? cookie(DEFAULT_USER_ID) : undefined),
    async route(request) {
      if (request.method === 'GET') return json(200, state(userOf(request)))
      if (request.method !== 'POST') return json(405, { error: 'Use GET or POST.' }, { allow: 'GET, POST' })
      const read = await readJson(request)
      if ('error' in read) return read.error
      const userId = (read.body as { userId?: unknown } | null)?.userId
      const user = typeof userId === 'string' ? demoUser(userId) : undefined
      if (userId !== null && !user) {
        return json(400, { error: `userId must be null or one of ${DEMO_USERS.map((known) => known.id).join(', ')}.` })
      }
      return json(200, state(user), { 'set-cookie': cookie(user?.id ?? SIGNED_OUT) })
    },
  }
}
