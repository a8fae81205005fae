import { readFile } from 'node:fs/promises'
import { PGlite } from '@electric-sql/pglite'
import { memoryStore } from '@usertracking/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, adminCookie, startSite, type RunningSite } from '../test/start-site'
import { createSite } from './site'
import type { ActivitiesPage, ActivityStatsBody } from './tracking-api'

let database: PGlite
beforeAll(async () => {
  database = await PGlite.create()
})
afterAll(() => database?.close())

let site: RunningSite | undefined
afterEach(async () => {
  await site?.close()
  site = undefined
})

const track = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${site!.url}/api/track`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })

describe("story 4's site over HTTP", () => {
  it("serves the browser package's built script, and every public page loads it configured as the seed's trackingConfig", async () => {
    site = await startSite(database)
    const script = await fetch(`${site.url}/static/usertracking.global.js`)
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/)
    const built = await readFile(new URL('../../../packages/browser/dist/usertracking.global.js', import.meta.url), 'utf8')
    expect(await script.text()).toBe(built)
    for (const path of ['/', '/about', '/contact']) {
      const page = await fetch(`${site.url}${path}`)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'")
      const html = await page.text()
      expect(html).toContain('<script src="/static/usertracking.global.js" data-endpoint="/api/track"')
      for (const attribute of ['data-track-button-clicks="true"', 'data-track-form-submissions="true"', 'data-track-input-focus="true"', 'data-max-retries="3"']) {
        expect(html).toContain(attribute)
      }
    }
    // The admin's own pages are not tracked.
    expect(await (await fetch(`${site.url}/admin/login`)).text()).not.toContain('usertracking.global.js')
  })

  it("stores the seed's manual POST /api/track body with the visitor's IP and user agent, for the admin list", async () => {
    site = await startSite(database)
    const seedBody = { action_type: 'button_click', page: '/', element_id: 'submit-btn', additional_data: '{"element_text": "Submit Form"}' }
    expect((await track(seedBody, { 'user-agent': 'Mozilla/5.0 (seed)' })).status).toBe(200)
    const cookie = (await adminCookie(site.url))!
    const list = (await (await fetch(`${site.url}/api/admin/activities`, { headers: { cookie } })).json()) as ActivitiesPage
    expect(list).toMatchObject({ total: 1, page: 1, per_page: 50, pages: 1 })
    expect(list.activities[0]).toMatchObject({
      user_identifier: null,
      action_type: 'button_click',
      page: '/',
      element_id: 'submit-btn',
      user_agent: 'Mozilla/5.0 (seed)',
      ip_address: '127.0.0.1',
      additional_data: '{"element_text":"Submit Form"}',
    })
    expect(site.errors).toEqual([])
  })

  it('keeps the admin routes and dashboard behind the admin login', async () => {
    site = await startSite(database)
    expect((await track({ action_type: 'page_visit', user_identifier: 'ut_1', page_url: '/' })).status).toBe(200)
    for (const path of ['/api/admin/activities', '/api/admin/activity-stats']) {
      expect((await fetch(`${site.url}${path}`)).status).toBe(401)
      expect((await fetch(`${site.url}${path}`, { headers: { cookie: 'admin_session=forged' } })).status).toBe(401)
    }
    const dashboard = await fetch(`${site.url}/admin`, { redirect: 'manual' })
    expect([dashboard.status, dashboard.headers.get('location')]).toEqual([303, '/admin/login'])

    expect(await adminCookie(site.url, 'password')).toBeUndefined()
    const wrong = await fetch(`${site.url}/admin/login`, { method: 'POST', body: new URLSearchParams({ username: 'admin', password: 'password' }) })
    expect(wrong.status).toBe(401)
    expect(await wrong.text()).toContain('Wrong user name or password')

    const login = await fetch(`${site.url}/admin/login`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'admin', password: ADMIN_PASSWORD }),
      redirect: 'manual',
    })
    expect([login.status, login.headers.get('location')]).toEqual([303, '/admin'])
    expect(login.headers.get('set-cookie')).toMatch(/^admin_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure; Max-Age=28800$/)
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!
    const stats = (await (await fetch(`${site.url}/api/admin/activity-stats`, { headers: { cookie } })).json()) as ActivityStatsBody
    expect(stats).toEqual({ action_stats: { page_visit: 1 }, unique_users: 1, total_activities: 1, recent_activities: 1 })
    expect((await fetch(`${site.url}/admin`, { headers: { cookie } })).status).toBe(200)

    const logout = await fetch(`${site.url}/admin/logout`, { method: 'POST', headers: { cookie }, redirect: 'manual' })
    expect(logout.headers.get('set-cookie')).toContain('Max-Age=0')
    expect((await fetch(`${site.url}/api/admin/activity-stats`, { headers: { cookie } })).status).toBe(401)
  })

  it('refuses a tracking request that names a user (the script is anonymous), storing nothing of it', async () => {
    site = await startSite(database)
    const forged = await track([{ action_type: 'page_visit', user_identifier: 'ut_1' }, { action_type: 'page_visit', user_id: 'admin' }])
    expect(forged.status).toBe(403)
    const cookie = (await adminCookie(site.url))!
    const stats = (await (await fetch(`${site.url}/api/admin/activity-stats`, { headers: { cookie } })).json()) as ActivityStatsBody
    expect(stats.total_activities).toBe(0)
  })

  it("answers the site's own contact route: 200 for a message, 400 naming what is missing", async () => {
    site = await startSite(database)
    const send = (body: unknown) => fetch(`${site!.url}/contact`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect(await (await send({ name: 'Olena', email: 'olena@example.com', message: 'Hi' })).json()).toEqual({ success: true })
    const invalid = await send({ name: 'Olena', email: 'not an address' })
    expect(invalid.status).toBe(400)
    expect(await invalid.json()).toEqual({ error: 'Enter your e-mail address.' })
  })

  it('refuses to start with a missing or short admin password', async () => {
    for (const adminPassword of [undefined, '', 'password']) {
      await expect(createSite({ store: memoryStore(), adminPassword })).rejects.toThrow(/at least 12 characters; is ADMIN_PASSWORD set\?/)
    }
  })
})
