import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { Store } from '@usertracking/core'
import type { HandlerContext, TrustProxy } from '@usertracking/server'
import { createAdminSessions } from './admin-sessions'
import { adminPage, loginPage, publicPage, type TrackingTagOptions } from './pages'
import { createTrackingApi } from './tracking-api'

/** What {@link createSite} needs. */
export interface SiteOptions {
  /** Where activities are kept: `postgresStore` over the site's database. */
  store: Store
  /** The admin's password, 12 characters or more (`ADMIN_PASSWORD`). */
  adminPassword: string | undefined
  /** The admin's user name. @default 'admin' */
  adminUsername?: string
  /** The tracking script's settings. */
  tracking?: TrackingTagOptions
  /** Proxies in front of the site, so the stored IP is the visitor's. @default false */
  trustProxy?: TrustProxy
  /** Store failures and unexpected errors. @default console.error */
  onError?: (error: unknown) => void
}

/** The whole site as one web-standard handler; serve it with `toNodeListener`. */
export interface Site {
  (request: Request, context?: HandlerContext): Promise<Response>
  /** Stops the tracking endpoints' background work. */
  close(): void
}

/** Largest body of the site's own forms (login, contact), in bytes. */
const MAX_FORM_BYTES = 16_384

const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // Scripts and styles come from the site itself only; no page may frame it.
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
}

const html = (body: string, status = 200, headers: Record<string, string> = {}) => new Response(body, { status, headers: { ...HTML_HEADERS, ...headers } })
const redirect = (location: string, headers: Record<string, string> = {}) => new Response(null, { status: 303, headers: { location, ...headers } })

/** The script-tag build of `@usertracking/browser`: `dist/usertracking.global.js`, made by its `pnpm build`. */
async function readTrackingScript(): Promise<string> {
  try {
    return await readFile(createRequire(import.meta.url).resolve('@usertracking/browser/script'), 'utf8')
  } catch (error) {
    throw new Error('[flask-style-site] @usertracking/browser/dist/usertracking.global.js is missing; build it with `pnpm --filter "@usertracking/browser..." build`.', { cause: error })
  }
}

async function readStatic(): Promise<Map<string, { body: string; type: string }>> {
  const file = (name: string) => readFile(new URL(`../public/${name}`, import.meta.url), 'utf8')
  const javascript = 'text/javascript; charset=utf-8'
  return new Map([
    ['/static/usertracking.global.js', { body: await readTrackingScript(), type: javascript }],
    ['/static/site.js', { body: await file('site.js'), type: javascript }],
    ['/static/admin.js', { body: await file('admin.js'), type: javascript }],
    ['/static/site.css', { body: await file('site.css'), type: 'text/css; charset=utf-8' }],
  ])
}

/** The body of a form post, or `undefined` past {@link MAX_FORM_BYTES}. */
async function readSmallBody(request: Request): Promise<string | undefined> {
  if (!request.body) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.byteLength
    if (size > MAX_FORM_BYTES) {
      await reader.cancel()
      return undefined
    }
    chunks.push(read.value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The site's own contact form route: it checks the message and answers; the tracking of its outcome is the page's. */
async function contact(request: Request): Promise<Response> {
  const body = await readSmallBody(request)
  if (body === undefined) return Response.json({ error: 'The message is too long.' }, { status: 413 })
  let fields: Record<string, unknown>
  try {
    fields = JSON.parse(body) as Record<string, unknown>
  } catch {
    return Response.json({ error: 'Send the form as JSON.' }, { status: 400 })
  }
  if (typeof fields.name !== 'string' || fields.name.trim() === '') return Response.json({ error: 'Enter your name.' }, { status: 400 })
  if (typeof fields.email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(fields.email)) return Response.json({ error: 'Enter your e-mail address.' }, { status: 400 })
  return Response.json({ success: true })
}

/**
 * Story 4's site: public pages tracked by the `UserTracking` script tag (`/static/usertracking.global.js`,
 * the browser package's built script), `POST /api/track`, the admin login, and the admin dashboard
 * reading `/api/admin/activities` and `/api/admin/activity-stats`.
 *
 * @throws TypeError when the admin password is missing or short; Error when the script is not built.
 */
export async function createSite(options: SiteOptions): Promise<Site> {
  const admins = createAdminSessions({ password: options.adminPassword, ...(options.adminUsername ? { username: options.adminUsername } : {}) })
  const files = await readStatic()
  const tracking = options.tracking ?? {}
  const api = createTrackingApi({
    store: options.store,
    adminOf: (request) => admins.principalOf(request),
    ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  })

  async function route(request: Request, context: HandlerContext | undefined): Promise<Response> {
    const { pathname } = new URL(request.url)
    if (pathname.startsWith('/api/')) return api(request, context)
    const method = request.method
    if (method === 'GET') {
      const file = files.get(pathname)
      if (file) return new Response(file.body, { headers: { 'content-type': file.type, 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' } })
      const page = publicPage(pathname, tracking)
      if (page) return html(page)
      if (pathname === '/admin/login') return html(loginPage(false))
      if (pathname === '/admin') return admins.principalOf(request) ? html(adminPage()) : redirect('/admin/login')
    }
    if (method === 'POST') {
      if (pathname === '/contact') return contact(request)
      if (pathname === '/admin/login') {
        const form = new URLSearchParams((await readSmallBody(request)) ?? '')
        const cookie = admins.login(form.get('username') ?? '', form.get('password') ?? '')
        return cookie ? redirect('/admin', { 'set-cookie': cookie }) : html(loginPage(true), 401)
      }
      if (pathname === '/admin/logout') return redirect('/admin/login', { 'set-cookie': admins.logout(request) })
    }
    return html('<!doctype html><title>Not found</title><h1>Not found</h1>', 404)
  }

  const site = (request: Request, context?: HandlerContext) =>
    route(request, context).catch((error: unknown) => {
      ;(options.onError ?? console.error)(error)
      return html('<!doctype html><title>Error</title><h1>Something went wrong</h1>', 500)
    })
  return Object.assign(site, { close: () => api.close() })
}
