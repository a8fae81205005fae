import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Principal } from '@usertracking/server'

/** What {@link createAdminSessions} needs. */
export interface AdminSessionsOptions {
  /** The admin's user name. @default 'admin' */
  username?: string
  /** The admin's password, 12 characters or more (`ADMIN_PASSWORD`). */
  password: string | undefined
  /** How long a session lasts after login, in ms. @default 28800000 (8 hours, a working day) */
  ttlMs?: number
  /** The clock, in Unix milliseconds. @default Date.now */
  now?: () => number
}

/** The admin's sign-in: a password checked in constant time, and sessions held by an HttpOnly cookie. */
export interface AdminSessions {
  /** A new session's `Set-Cookie` value when the credentials are right, else `null`. */
  login(username: string, password: string): string | null
  /** Ends the request's session; the `Set-Cookie` value that clears the cookie. */
  logout(request: Request): string
  /** The admin principal when the request carries a live session, else `null`. */
  principalOf(request: Request): Principal | null
}

/** The session cookie: never readable by scripts, never sent by other sites, never sent over plain HTTP (but to localhost). */
const COOKIE = 'admin_session'
/** Sessions kept at most; the oldest go first, so a login loop cannot grow memory. */
const MAX_SESSIONS = 100

const digest = (text: string) => createHash('sha256').update(text).digest()

function sessionIdOf(request: Request): string | undefined {
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const [name, value] = part.trim().split('=')
    if (name === COOKIE && value) return value
  }
  return undefined
}

/**
 * The site's admin login, as the seed has it ("Log in to the admin dashboard at `/admin/login`"),
 * with one admin whose password comes from the environment rather than the seed's `password`.
 *
 * @throws TypeError when the password is missing or shorter than 12 characters.
 */
export function createAdminSessions(options: AdminSessionsOptions): AdminSessions {
  const { password, username = 'admin', ttlMs = 28_800_000, now = Date.now } = options
  if (typeof password !== 'string' || password.length < 12) {
    throw new TypeError('[flask-style-site] the admin password must be at least 12 characters; is ADMIN_PASSWORD set?')
  }
  // Digests have one length, so timingSafeEqual compares them whatever was typed.
  const expected = { username: digest(username), password: digest(password) }
  /** Session id → expiry, in insertion order (oldest first). */
  const sessions = new Map<string, number>()

  return {
    login(name, typed) {
      const userOk = timingSafeEqual(digest(name), expected.username)
      const passwordOk = timingSafeEqual(digest(typed), expected.password)
      if (!(userOk && passwordOk)) return null
      for (const [id, expires] of sessions) if (expires <= now() || sessions.size >= MAX_SESSIONS) sessions.delete(id)
      const id = randomBytes(32).toString('base64url')
      sessions.set(id, now() + ttlMs)
      return `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=${Math.floor(ttlMs / 1000)}`
    },
    logout(request) {
      const id = sessionIdOf(request)
      if (id) sessions.delete(id)
      return `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0`
    },
    principalOf(request) {
      const id = sessionIdOf(request)
      const expires = id === undefined ? undefined : sessions.get(id)
      if (expires === undefined) return null
      if (expires <= now()) {
        sessions.delete(id!)
        return null
      }
      return { userId: 'admin', admin: true }
    },
  }
}
