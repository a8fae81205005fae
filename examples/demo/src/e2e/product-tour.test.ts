/**
 * The product tour, end to end in real Chromium: `pnpm start` as a child process on a free port and
 * a temporary data folder, clicked through at desktop and phone widths. Screenshots of each page,
 * and of each component at desktop width, go to examples/demo/screenshots/ (git-ignored), which
 * docs/show-activities.md and the README name.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Activity } from '@usertracking/core'
import { parse } from 'csv-parse/sync'
import { chromium, type Browser, type Locator, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHROMIUM_ARGS, findChromium } from '../../../../packages/browser/test/e2e/harness'
import { startDemoProcess, type DemoProcess } from './demo-process'

const SCREENSHOTS_DIR = fileURLToPath(new URL('../../screenshots', import.meta.url))

const executablePath = findChromium()
const inCi = process.env.CI === 'true'
if (!executablePath && !inCi) {
  console.warn(`
################################################################################
#  [usertracking] [demo-e2e] Chromium is not installed: the product tour in    #
#  the browser DID NOT RUN. Install it (apt-get install -y chromium) or set     #
#  CHROMIUM_PATH. With CI=true a missing Chromium fails the run instead.       #
################################################################################
`)
}

/** One pass of the tour: a screen size and the two people whose rows must not mix. */
const PASSES = [
  { width: 1280, height: 900, first: { id: 'amara', name: 'Amara Okafor' }, second: { id: 'ben', name: 'Ben Carter' }, components: true },
  { width: 390, height: 844, first: { id: 'chen', name: 'Chen Wei' }, second: { id: 'dana', name: 'Dana Kowalski' }, components: false },
]

/** Polls `check` until it holds, failing with `what` after `timeoutMs`. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** The activities the signed-in user of `page` can read, newest first, through the page's own cookie. */
async function readable(page: Page, query = ''): Promise<Activity[]> {
  const response = await page.request.get(`/api/activities?limit=1000${query}`)
  expect(response.status()).toBe(200)
  return ((await response.json()) as { items: Activity[] }).items
}

/** The table's rows as a person reads them: type, timestamp (the `datetime` of its `<time>`), tokens. */
async function tableRows(table: Locator): Promise<{ type: string; timestamp: string; tokens: string }[]> {
  return table.locator('tbody tr').evaluateAll((rows) =>
    rows
      .filter((row) => row.querySelector('time'))
      .map((row) => ({
        type: row.querySelector('th')!.childNodes[0]!.textContent!.trim(),
        timestamp: row.querySelector('time')!.getAttribute('datetime')!,
        tokens: row.querySelector('[data-label="Token Usage"]')!.textContent!.trim(),
      })),
  )
}

const tokenCount = (text: string) => (/\d/.test(text) ? Number(text.replace(/\D/g, '')) : undefined)

/** Whether token counts read from most to fewest, the rows without any last. */
function mostTokensFirst(counts: (number | undefined)[]): boolean {
  return (
    counts.length > 0 &&
    counts.every((count, index) => {
      const previous = counts[index - 1]
      // A count follows a larger or equal one; a row without tokens may follow anything.
      return index === 0 || count === undefined || (previous !== undefined && previous >= count)
    })
  )
}

describe.skipIf(!executablePath && !inCi)('the product tour in Chromium (pnpm start)', () => {
  let demo: DemoProcess
  let browser: Browser
  let dataDir: string

  beforeAll(async () => {
    if (!executablePath) throw new Error('[demo-e2e] Chromium is required under CI=true: install it (apt-get install -y chromium) or set CHROMIUM_PATH.')
    dataDir = await mkdtemp(join(tmpdir(), 'usertracking-demo-e2e-'))
    await mkdir(SCREENSHOTS_DIR, { recursive: true })
    demo = await startDemoProcess(dataDir)
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS })
  })

  afterAll(async () => {
    await browser?.close()
    const code = await demo?.stop()
    if (demo) expect(code, demo.output()).toBe(0)
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  for (const pass of PASSES) {
    it(`at ${pass.width} px: tracks the product page, tailors, sorts, filters, shows details, exports, updates live, keeps users apart, and shows the admin dashboard`, async () => {
      const context = await browser.newContext({ baseURL: demo.url, viewport: { width: pass.width, height: pass.height }, acceptDownloads: true })
      const problems: string[] = []
      const watch = (page: Page) => {
        page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
        page.on('console', (message) => {
          if (message.type() === 'error') problems.push(`console error: ${message.text()}`)
        })
      }
      const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS_DIR, `${name}-${pass.width}.png`), fullPage: true })
      const component = (locator: Locator, name: string) => (pass.components ? locator.first().screenshot({ path: join(SCREENSHOTS_DIR, `component-${name}.png`) }) : undefined)
      const fitsTheScreen = async (page: Page) => {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
        expect(overflow, 'no horizontal scrolling').toBeLessThanOrEqual(0)
      }
      const switchUser = async (page: Page, user: { id: string; name: string }) => {
        const signedIn = page.waitForResponse((response) => response.url().endsWith('/demo/session') && response.request().method() === 'POST')
        await page.locator('#user-switcher').selectOption(user.id)
        expect((await signedIn).status()).toBe(200)
        await expect.poll(() => page.locator('#user-switcher').isEnabled()).toBe(true)
      }

      try {
        const page = await context.newPage()
        watch(page)
        const since = new Date().toISOString()
        // ——— The product page, tracked by the script tag ———
        await page.goto('/')
        await page.getByRole('heading', { name: 'Resumes that fit the job' }).waitFor()
        if ((await page.locator('#user-switcher').inputValue()) !== pass.first.id) {
          // Signed in as someone else first: the page view so far was theirs. Sign in, then load the page as this user.
          await switchUser(page, pass.first)
          await page.reload()
          await page.getByRole('heading', { name: 'Resumes that fit the job' }).waitFor()
        }
        await page.locator('#start-trial').click()
        await page.locator('#upgrade-pro').click()
        await page.locator('#newsletter-email').fill(`${pass.first.id}@example.com`)
        await page.locator('#subscribe').click()
        await page.getByText('Thanks — you are on the list.').waitFor()

        // ——— "Tailor my resume": withActivity around the openai client, on the fake model ———
        const company = `Acme ${pass.width}`
        await page.locator('#company').fill(company)
        await page.locator('#tailor-button').click()
        const usage = page.getByTestId('tailor-usage')
        await usage.waitFor({ timeout: 60_000 })
        await expect.poll(() => page.getByTestId('tailored-resume').textContent()).toContain(`Data Engineer, tailored for ${company}`)
        expect(await usage.textContent()).toMatch(/[\d,]+ tokens \([\d,]+ in, [\d,]+ out\) · cost \$0\.\d+ · [\d.]+ s · gpt-4o-mini-2024-07-18/)
        if (pass.width <= 640) await fitsTheScreen(page)
        await shot(page, 'product')

        // The script tag's captures reached the server's ingest, under the signed-in user.
        const captured = async () => new Set((await readable(page, `&from=${since}`)).map((activity) => activity.activityType))
        let seen = new Set<string>()
        await waitFor('the script tag’s page view, clicks, focus and forms in the store', async () => {
          seen = await captured()
          return ['page_visit', 'button_click', 'input_focus', 'form_submit', 'form_submit_success', 'resume_generation'].every((type) => seen.has(type))
        }).catch((error: Error) => {
          throw new Error(`${error.message} Stored: ${[...seen].join(', ')}`)
        })
        const tailoring = (await readable(page, `&activityType=resume_generation&from=${since}`))[0]!
        expect(tailoring, 'the tailoring is stored (the waitFor above saw its type)').toMatchObject({ userId: pass.first.id, description: `Tailored resume for ${company} job`, status: 'success' })
        expect(tailoring.cost?.total).toBeGreaterThan(0)

        // ——— My Activities ———
        await page.locator('#nav-activities').click()
        await page.getByRole('heading', { name: 'My Activities', level: 2 }).waitFor()
        const table = page.locator('.ut-table-wrap table')
        await expect.poll(async () => (await tableRows(table)).length).toBeGreaterThan(0)
        // Leaving the product page (a single-page navigation) sent its time on page.
        await waitFor('the product page’s time on page', async () => (await captured()).has('time_on_page'))
        if (pass.width <= 640) await fitsTheScreen(page)

        // Sort by tokens: the column reads from most to fewest, rows without tokens last. Below
        // 640 px the table's header row (its sort buttons) is hidden and the "Sort by" menu shows instead.
        const sortMenu = page.locator('.ut-table-wrap').getByLabel('Sort by')
        expect(await sortMenu.isVisible()).toBe(pass.width <= 640)
        if (pass.width > 640) await table.getByRole('button', { name: 'Token Usage' }).click()
        else await sortMenu.selectOption({ label: 'Token Usage, most first' })
        await expect.poll(() => table.locator('th[aria-sort="descending"]').textContent()).toContain('Token Usage')
        await expect.poll(() => new URL(page.url()).searchParams.get('sort')).toBe('tokens')
        await expect.poll(async () => mostTokensFirst((await tableRows(table)).map((row) => tokenCount(row.tokens)))).toBe(true)

        // Filter by type, and by date: today only, in the viewer's time zone.
        const filters = page.getByRole('search', { name: 'Filter activities' })
        await filters.getByLabel('Activity type').selectOption('resume_generation')
        const today = await page.evaluate(() => new Date().toLocaleDateString('en-CA'))
        await filters.getByLabel('From', { exact: true }).fill(today)
        await filters.getByLabel('To', { exact: true }).fill(today)
        await expect.poll(() => new URL(page.url()).searchParams.get('from')).toBe(today)
        const localDay = (rows: { timestamp: string }[]) => page.evaluate((stamps) => stamps.map((stamp) => new Date(stamp).toLocaleDateString('en-CA')), rows.map((row) => row.timestamp))
        await expect
          .poll(async () => {
            const rows = await tableRows(table)
            const days = await localDay(rows)
            return rows.length > 0 && rows.some((row) => row.timestamp === tailoring.timestamp) && rows.every((row, index) => row.type === 'resume_generation' && days[index] === today)
          })
          .toBe(true)
        const filtered = await tableRows(table)
        await component(filters, 'activity-filters')
        await component(page.locator('.ut-table-wrap'), 'activity-table')
        await component(page.getByRole('group', { name: 'Export' }), 'export-button')

        // Details of the tailoring.
        await table.locator(`tbody tr:has(time[datetime="${tailoring.timestamp}"])`).getByRole('button', { name: /View details/ }).click()
        const dialog = page.getByRole('dialog')
        await dialog.waitFor()
        await expect.poll(() => dialog.textContent()).toContain(`Tailored resume for ${company} job`)
        expect(await dialog.textContent()).toContain('gpt-4o-mini-2024-07-18')
        expect(await dialog.textContent()).toMatch(/Cost\$0\.\d+/)
        await shot(page, 'details')
        await component(dialog, 'activity-details')
        await page.keyboard.press('Escape')
        await dialog.waitFor({ state: 'hidden' })

        // Export CSV: the downloaded file holds the table's rows, in the table's order.
        const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()])
        const csvPath = join(dataDir, `export-${pass.width}.csv`)
        await download.saveAs(csvPath)
        const records = parse(await readFile(csvPath), { columns: true, bom: true }) as Record<string, string>[]
        expect(await page.locator('.ut-table-wrap').getByRole('button', { name: 'Next' }).isDisabled()).toBe(true)
        expect(records.map((record) => ({ type: record.activityType, timestamp: record.timestamp, tokens: record.tokensTotal }))).toEqual(
          filtered.map((row) => ({ type: row.type, timestamp: row.timestamp, tokens: row.tokens.replace(/\D/g, '') })),
        )
        expect(new Set(records.map((record) => record.userId))).toEqual(new Set([pass.first.id]))

        // ——— Live: a tailoring made in another tab arrives without a reload ———
        await filters.getByRole('button', { name: 'Clear filters' }).click()
        if (pass.width > 640) {
          // Newest first: a new row is merged in at the top and highlighted.
          await table.getByRole('button', { name: 'Timestamp' }).click()
          await expect.poll(() => table.locator('th[aria-sort="descending"]').textContent()).toContain('Timestamp')
        }
        await page.evaluate(() => ((window as { notReloaded?: boolean }).notReloaded = true))
        const other = await context.newPage()
        watch(other)
        await other.goto('/')
        await other.locator('#company').fill(`Live ${pass.width}`)
        await other.locator('#tailor-button').click()
        await other.getByTestId('tailor-usage').waitFor({ timeout: 60_000 })
        let liveOne: Activity | undefined
        await waitFor('the second tailoring in the store', async () => {
          liveOne = (await readable(other, '&activityType=resume_generation&limit=1'))[0]
          return liveOne?.description === `Tailored resume for Live ${pass.width} job`
        })
        if (pass.width > 640) {
          const fresh = table.locator(`tbody tr.ut-fresh:has(time[datetime="${liveOne!.timestamp}"])`)
          await fresh.waitFor({ timeout: 30_000 })
          // The highlight lasts a few seconds: then the row reads like the others (no background of its own).
          await expect.poll(() => fresh.evaluate((row) => getComputedStyle(row).backgroundColor), { timeout: 30_000 }).toBe('rgba(0, 0, 0, 0)')
        } else {
          // Still sorted by tokens: nothing moves under the reader; a button offers what arrived.
          await page.getByRole('button', { name: /new activit(y|ies) — show$/ }).click({ timeout: 30_000 })
          await table.locator(`tbody tr:has(time[datetime="${liveOne!.timestamp}"])`).waitFor()
        }
        expect(await page.evaluate(() => (window as { notReloaded?: boolean }).notReloaded)).toBe(true)
        await other.close()
        await shot(page, 'my-activities')
        const firstUserIds = new Set((await readable(page)).map((activity) => activity.id))

        // ——— Another user sees none of the first one's rows ———
        await switchUser(page, pass.second)
        await page.getByText(`Signed in as ${pass.second.name}.`).waitFor()
        await expect.poll(async () => (await tableRows(table)).length).toBeGreaterThan(0)
        const secondRows = await tableRows(table)
        const [secondDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()])
        const secondPath = join(dataDir, `export-${pass.width}-second.csv`)
        await secondDownload.saveAs(secondPath)
        const secondRecords = parse(await readFile(secondPath), { columns: true, bom: true }) as Record<string, string>[]
        expect(secondRecords.length).toBeGreaterThan(0)
        expect(new Set(secondRecords.map((record) => record.userId))).toEqual(new Set([pass.second.id]))
        expect(secondRecords.filter((record) => firstUserIds.has(record.id!))).toEqual([])
        expect(secondRows.every((row) => secondRecords.some((record) => record.timestamp === row.timestamp))).toBe(true)

        // ——— The admin dashboard ———
        await page.locator('#nav-admin').click()
        await page.getByRole('heading', { name: 'Admin dashboard' }).waitFor()
        await page.getByRole('button', { name: 'Switch to Sam Rivera (admin)' }).click()
        await page.getByRole('heading', { name: 'Admin dashboard', level: 2 }).waitFor()
        await expect.poll(() => page.locator('.ut-live-counter').textContent(), { timeout: 30_000 }).toMatch(/^\d[\d,]* activit(y|ies) today$/)
        const cards = page.locator('dl.ut-cards')
        await expect.poll(() => cards.getAttribute('aria-busy')).toBe('false')
        expect(await cards.textContent()).toMatch(/Activities[\d,]+/)
        const recent = page.getByRole('table', { name: 'Recent activity across users' })
        await expect.poll(async () => new Set(await recent.locator('tbody td[data-label="User"]').allTextContents()).size).toBeGreaterThan(1)
        await expect.poll(() => page.getByRole('table', { name: 'By activity type' }).locator('tbody tr').count()).toBeGreaterThan(5)
        if (pass.width <= 640) await fitsTheScreen(page)
        await shot(page, 'admin')
        await component(cards, 'stats-cards')
        await component(page.locator('figure.ut-chart'), 'activity-chart')
        await component(page.locator('.ut-live-counter'), 'live-counter')

        expect(problems).toEqual([])
      } finally {
        await context.close()
      }
    })
  }
})
