import { PGlite } from '@electric-sql/pglite'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CHROMIUM_ARGS, findChromium, waitFor } from '../../../packages/browser/test/e2e/harness'
import { ADMIN_PASSWORD, startSite, type RunningSite } from '../test/start-site'
import type { ActivitiesPage, ActivityStatsBody } from './tracking-api'

const executablePath = findChromium()
const inCi = process.env.CI === 'true'
if (!executablePath && !inCi) {
  console.warn(`
################################################################################
#  [usertracking] [flask-style-site] Chromium is not installed: the browser    #
#  suite DID NOT RUN. Install it (apt-get install -y chromium) or set           #
#  CHROMIUM_PATH. With CI=true a missing Chromium fails the run instead.        #
################################################################################
`)
}

/** How long the dashboard may take to show what it read: generous, for a loaded machine. */
const POLL = { timeout: 30_000 }

declare global {
  interface Window {
    UserTracking: import('@usertracking/browser').UserTrackingApi
  }
}

describe.skipIf(!executablePath && !inCi)("story 4's site in Chromium: the script tag, /api/track and the admin dashboard", () => {
  let database: PGlite
  let browser: Browser
  let site: RunningSite | undefined

  beforeAll(async () => {
    if (!executablePath) {
      throw new Error('[usertracking] [flask-style-site] CI=true but Chromium is not installed; install it with apt-get install -y chromium, or set CHROMIUM_PATH.')
    }
    database = await PGlite.create()
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS })
  })
  afterAll(async () => {
    await browser?.close()
    await database?.close()
  })
  afterEach(async () => {
    await site?.close()
    site = undefined
  })

  /** A new visitor: a browser context of its own, so its own anonymous id. */
  async function visitor(path: string): Promise<Page> {
    const tab = await (await browser.newContext()).newPage()
    await tab.goto(site!.url + path)
    return tab
  }
  const anonymousIdOf = (tab: Page) => tab.evaluate(() => localStorage.getItem('usertracking:aid'))
  /** Reads an admin route with the session cookie of the signed-in admin's tab. */
  async function readAdmin<T>(admin: Page, path: string): Promise<T> {
    const response = await admin.request.get(site!.url + path)
    expect(response.status(), path).toBe(200)
    return (await response.json()) as T
  }

  it('tracks what two visitors do, and the admin reads it in the seed’s JSON and on the dashboard', async () => {
    site = await startSite(database)

    // Visitor 1: home, a button, the nav link to Contact, two fields, a successful submit.
    const first = await visitor('/')
    await first.click('#cta-btn')
    await first.click('#nav-contact')
    await first.waitForURL('**/contact')
    await first.click('#name')
    await first.keyboard.type('Olena')
    await first.click('#email')
    await first.keyboard.type('olena@example.com')
    await first.click('#send-btn')
    await first.getByText('Thanks, we will get back to you.').waitFor()
    await first.evaluate(() => window.UserTracking.flush())

    // Visitor 2: About, a manual content_view, then Contact sent empty (the browser's validation blocks it).
    const second = await visitor('/about')
    await second.click('#learn-more')
    await second.goto(`${site.url}/contact`)
    await second.click('#send-btn')
    await second.evaluate(() => window.UserTracking.flush())

    const firstId = await anonymousIdOf(first)
    const secondId = await anonymousIdOf(second)
    expect(firstId).toBeTruthy()
    expect(secondId).toBeTruthy()
    expect(firstId).not.toBe(secondId)

    // The admin signs in through the login form.
    const admin = await visitor('/admin')
    await admin.waitForURL('**/admin/login')
    await admin.fill('#username', 'admin')
    await admin.fill('#password', 'not the password')
    await admin.click('#login-btn')
    await admin.getByText('Wrong user name or password.').waitFor()
    await admin.fill('#username', 'admin')
    await admin.fill('#password', ADMIN_PASSWORD)
    await admin.click('#login-btn')
    await admin.waitForURL('**/admin')

    const expected: ActivityStatsBody = {
      action_stats: {
        page_visit: 4,
        button_click: 5,
        input_focus: 3,
        form_submit: 1,
        form_submit_success: 1,
        form_submit_error: 1,
        content_view: 1,
      },
      unique_users: 2,
      total_activities: 16,
      recent_activities: 16,
    }
    // A page left by navigation sends what it still held by beacon: wait until everything arrived.
    await waitFor('every activity stored', async () => (await readAdmin<ActivityStatsBody>(admin, '/api/admin/activity-stats')).total_activities >= 16, 60_000)
    const stats = await readAdmin<ActivityStatsBody>(admin, '/api/admin/activity-stats')
    expect(Object.keys(stats)).toEqual(['action_stats', 'unique_users', 'total_activities', 'recent_activities'])
    expect(stats).toEqual(expected)

    const firstPage = await readAdmin<ActivitiesPage>(admin, '/api/admin/activities?page=1&per_page=5')
    expect(Object.keys(firstPage)).toEqual(['activities', 'total', 'page', 'per_page', 'pages'])
    expect(firstPage).toMatchObject({ total: 16, page: 1, per_page: 5, pages: 4 })
    expect(firstPage.activities).toHaveLength(5)

    const clicks = await readAdmin<ActivitiesPage>(admin, '/api/admin/activities?action_type=button_click&page=2&per_page=2')
    expect(clicks).toMatchObject({ total: 5, page: 2, per_page: 2, pages: 3 })
    expect(clicks.activities.map((row) => row.action_type)).toEqual(['button_click', 'button_click'])

    const firstVisitor = await readAdmin<ActivitiesPage>(admin, `/api/admin/activities?user_id=${firstId}`)
    expect(firstVisitor.total).toBe(9)
    expect(firstVisitor.activities.map((row) => `${row.action_type} ${row.page} ${row.element_id ?? ''}`.trim()).sort()).toEqual(
      [
        'page_visit /',
        'button_click / cta-btn',
        'button_click / nav-contact',
        'page_visit /contact',
        'input_focus /contact name',
        'input_focus /contact email',
        'button_click /contact send-btn',
        'form_submit /contact contact-form',
        'form_submit_success /contact contact-form',
      ].sort(),
    )

    const userAgent = await first.evaluate(() => navigator.userAgent)
    const [success] = (await readAdmin<ActivitiesPage>(admin, '/api/admin/activities?action_type=form_submit_success')).activities
    expect(success).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      user_identifier: firstId,
      action_type: 'form_submit_success',
      page: '/contact',
      element_id: 'contact-form',
      user_agent: userAgent,
      ip_address: '127.0.0.1',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      additional_data: null,
    })
    const [content] = (await readAdmin<ActivitiesPage>(admin, `/api/admin/activities?action_type=content_view&user_id=${secondId}`)).activities
    expect(content).toMatchObject({ element_id: 'article-123', page: '/about' })
    // A JSON string, as the model's Text column held it (jsonb keeps its own key order).
    expect(JSON.parse(content!.additional_data!)).toEqual({ article_title: 'Sample Article', reading_time: '5 minutes' })
    const [blocked] = (await readAdmin<ActivitiesPage>(admin, '/api/admin/activities?action_type=form_submit_error')).activities
    expect(blocked).toMatchObject({ user_identifier: secondId, element_id: 'contact-form' })
    expect(JSON.parse(blocked!.additional_data!)).toMatchObject({ reason: 'validation' })

    // The dashboard shows the same: statistics, then the list, filtered and paged by clicking.
    await admin.click('#refresh-btn')
    await expect.poll(() => admin.textContent('#total-activities'), POLL).toBe('16')
    expect(await admin.textContent('#unique-users')).toBe('2')
    expect(await admin.textContent('#recent-activities')).toBe('16')
    const statsRows = await admin.$$eval('#action-stats tbody tr', (rows) => (rows as HTMLTableRowElement[]).map((row) => [...row.cells].map((cell) => cell.textContent)))
    expect(Object.fromEntries(statsRows.map(([type, count]) => [type, Number(count)]))).toEqual(expected.action_stats)
    await expect.poll(() => admin.textContent('#page-info'), POLL).toBe('Page 1 of 2 (16 activities)')
    await admin.click('#next-page')
    await expect.poll(() => admin.textContent('#page-info'), POLL).toBe('Page 2 of 2 (16 activities)')
    expect(await admin.locator('#activities tbody tr').count()).toBe(6)
    await admin.selectOption('#action-filter', 'button_click')
    await expect.poll(() => admin.textContent('#page-info'), POLL).toBe('Page 1 of 1 (5 activities)')
    const actions = await admin.$$eval('#activities tbody tr', (rows) => (rows as HTMLTableRowElement[]).map((row) => row.cells[2]!.textContent))
    expect(actions).toEqual(['button_click', 'button_click', 'button_click', 'button_click', 'button_click'])

    // Logging out ends the session: the dashboard's routes answer 401 again.
    await admin.click('#logout-btn')
    await admin.waitForURL('**/admin/login')
    expect((await admin.request.get(`${site.url}/api/admin/activity-stats`)).status()).toBe(401)
    expect(site.errors).toEqual([])
  })
})
