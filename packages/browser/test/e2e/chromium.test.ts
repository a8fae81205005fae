import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Activity } from '@usertracking/core'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildScript, CHROMIUM_ARGS, countById, findChromium, page, startSite, waitFor, type TestSite } from './harness'

const executablePath = findChromium()
const inCi = process.env.CI === 'true'
if (!executablePath && !inCi) {
  console.warn(`
################################################################################
#  [usertracking] [browser-e2e] Chromium is not installed: the end-to-end      #
#  suite DID NOT RUN. Install it (apt-get install -y chromium) or set           #
#  CHROMIUM_PATH. With CI=true a missing Chromium fails the run instead.       #
################################################################################
`)
}

declare global {
  interface Window {
    UserTracking: import('../../src/user-tracking').UserTrackingApi
  }
}

// Nothing goes out by itself while the test acts, so what arrives was sent by the page going away.
const SLOW = { 'debounce-time': '20000', 'flush-interval': '30000' }

describe.skipIf(!executablePath && !inCi)('in Chromium, from a script tag, against a loopback ingest', () => {
  let browser: Browser
  let site: TestSite
  const contexts: BrowserContext[] = []

  const types = (activities: Activity[] = site.received()) => activities.map((activity) => activity.activityType)
  const ofType = (type: string) => site.received().filter((activity) => activity.activityType === type)
  const expectEachOnce = () => {
    const repeated = [...countById(site.received())].filter(([, count]) => count > 1)
    // The pages' debug log says which tab sent what.
    if (repeated.length > 0) console.log(logs.join('\n'))
    expect(repeated, 'activities received more than once').toEqual([])
  }
  const newContext = async () => {
    const context = await browser.newContext()
    contexts.push(context)
    return context
  }
  const logs: string[] = []
  let tabs = 0
  const open = async (context: BrowserContext, path: string): Promise<Page> => {
    const tab = await context.newPage()
    const name = `tab ${++tabs}`
    tab.on('console', (message) => logs.push(`${new Date().toISOString()} ${name} ${path}: ${message.text()}`))
    await tab.goto(site.url + path)
    return tab
  }
  // setOffline resolves before the page hears of it; tracking before that would race the emulation.
  const goOffline = async (context: BrowserContext, tab: Page) => {
    await context.setOffline(true)
    await tab.waitForFunction(() => !navigator.onLine)
  }
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  beforeAll(async () => {
    if (!executablePath) {
      throw new Error('[usertracking] [browser-e2e] CI=true but Chromium is not installed; install it with apt-get install -y chromium, or set CHROMIUM_PATH.')
    }
    const script = await buildScript()
    site = await startSite(script, {
      '/': page('Home'),
      '/slow': page('Slow', SLOW),
      '/dnt': page('Do not track', { 'respect-do-not-track': 'true' }),
    })
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS })
  })

  afterAll(async () => {
    await browser?.close()
    await site?.close()
  })

  beforeEach(() => {
    logs.length = 0
    site.receipts.length = 0
    site.status = 200
  })

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()))
  })

  it('delivers a page view, clicks, a form, a focus and an SPA navigation, once each, without field values', async () => {
    const tab = await open(await newContext(), '/')
    await tab.click('#buy')
    await tab.click('#private')
    await tab.focus('#email')
    await tab.keyboard.type('me@example.com')
    await tab.focus('#pw')
    await tab.keyboard.type('hunter2')
    await tab.click('#send')
    await tab.click('#pricing')

    await waitFor('the SPA page view', () => ofType('page_visit').length === 2)
    await waitFor('the clicks and form events', () => ofType('form_submit_success').length === 1 && ofType('button_click').length === 3)
    await pause(300)
    expect(types().sort()).toEqual(
      ['page_visit', 'button_click', 'input_focus', 'button_click', 'form_submit', 'form_submit_success', 'button_click', 'time_on_page', 'page_visit'].sort(),
    )
    // Leaving the first page for the SPA route closes its engaged time.
    expect(ofType('time_on_page')[0]?.context?.page).toBe('/')
    expectEachOnce()
    const [home, pricing] = ofType('page_visit')
    expect(home?.metadata).toMatchObject({ path: '/', title: 'Home' })
    expect(pricing?.metadata).toMatchObject({ path: '/pricing', title: 'Pricing', referrer: `${site.url}/` })
    expect(ofType('button_click').map((click) => [click.context?.element, click.metadata?.text])).toEqual([
      ['buy', 'Buy now'],
      ['send', 'Sign up'],
      ['pricing', 'Pricing'],
    ])
    expect(ofType('input_focus').map((focus) => focus.context?.element)).toEqual(['email'])
    expect(ofType('form_submit')[0]?.context?.element).toBe('signup')
    const first = site.received()[0]!
    expect(first.anonymousId).toBeTruthy()
    expect(first.sessionId).toBeTruthy()
    expect(first.context?.userAgent).toContain('Chrome')
    const bodies = JSON.stringify(site.receipts)
    expect(bodies).not.toContain('me@example.com')
    expect(bodies).not.toContain('hunter2')
    // A text/plain body keeps every request CORS-simple.
    expect(new Set(site.receipts.map((receipt) => receipt.contentType))).toEqual(new Set(['text/plain;charset=UTF-8']))
  })

  it('holds activities while offline, keeps them across a reload, and delivers each exactly once', async () => {
    const context = await newContext()
    const tab = await open(context, '/')
    await waitFor('the first page view', () => ofType('page_visit').length === 1)

    await goOffline(context, tab)
    await tab.evaluate(() => ['offline_1', 'offline_2', 'offline_3'].forEach((type) => window.UserTracking.track(type)))
    await pause(500)
    expect(types().filter((type) => type.startsWith('offline'))).toEqual([])
    // Leaving while offline: nothing can go by beacon, so everything stays in IndexedDB. The tab is
    // closed rather than navigated away from: Chromium keeps a document it navigates away from
    // running for a moment, where it can hear 'online' before 'pagehide' and start a keepalive
    // request that is delivered without the page learning so. The next visit then sends those
    // activities again, the at-least-once window documented on the package (stores drop the copy).
    await tab.close({ runBeforeUnload: false })
    await context.setOffline(false)
    const next = await open(context, '/')

    await waitFor('the offline activities', () => types().filter((type) => type.startsWith('offline')).length === 3)
    await next.evaluate(() => window.UserTracking.flush())
    await pause(500)
    expectEachOnce()
    expect(types().filter((type) => type.startsWith('offline')).sort()).toEqual(['offline_1', 'offline_2', 'offline_3'])
  })

  it('resumes delivery when the browser comes back online', async () => {
    const context = await newContext()
    const tab = await open(context, '/')
    await goOffline(context, tab)
    await tab.evaluate(() => window.UserTracking.track('while_offline'))
    await pause(400)
    expect(ofType('while_offline')).toEqual([])
    await context.setOffline(false)
    await waitFor('the activity tracked offline', () => ofType('while_offline').length === 1)
  })

  it('delivers a click made right before the page closes, by beacon, and not again on the next visit', async () => {
    const context = await newContext()
    const tab = await open(context, '/slow')
    await tab.click('#buy')
    await tab.close({ runBeforeUnload: false })

    await waitFor('the click sent as the page closed', () => ofType('button_click').length === 1)
    const beacon = site.receipts.find((receipt) => receipt.activities.some((activity) => activity.activityType === 'button_click'))
    expect(beacon?.fetchMode).toBe('no-cors')
    expect(beacon?.contentType).toBe('text/plain;charset=UTF-8')

    const next = await open(context, '/slow')
    await next.evaluate(() => window.UserTracking.flush())
    await pause(300)
    expect(ofType('button_click')).toHaveLength(1)
    expect(ofType('page_visit')).toHaveLength(2)
    expectEachOnce()
  })

  it('splits what is pending at close into beacons that fit, and sends what the browser refused on the next visit', async () => {
    const context = await newContext()
    const tab = await open(context, '/slow')
    await tab.evaluate(() => {
      for (let index = 0; index < 150; index++) window.UserTracking.track('bulk', { index, padding: 'x'.repeat(1000) })
    })
    await pause(300)
    await tab.close({ runBeforeUnload: false })
    await waitFor('the first beacon', () => ofType('bulk').length > 0)
    await pause(300)
    for (const receipt of site.receipts) expect(receipt.bytes).toBeLessThanOrEqual(64 * 1024)

    const next = await open(context, '/slow')
    await next.evaluate(() => window.UserTracking.flush())
    await waitFor('every bulk activity', () => ofType('bulk').length >= 150)
    await pause(300)
    expect(new Set(ofType('bulk').map((activity) => activity.metadata?.index)).size).toBe(150)
    expectEachOnce()
  })

  it('never sends one activity from two open tabs, during an outage and after it', async () => {
    const context = await newContext()
    site.status = 503
    const first = await open(context, '/')
    await first.evaluate(() => ['tab_a_1', 'tab_a_2'].forEach((type) => window.UserTracking.track(type)))
    await pause(400)
    const second = await open(context, '/')
    await second.evaluate(() => ['tab_b_1', 'tab_b_2'].forEach((type) => window.UserTracking.track(type)))
    await pause(400)
    site.status = 200
    await waitFor('both tabs’ activities', () => site.received().length >= 6, 30_000)
    await Promise.all([first, second].map((tab) => tab.evaluate(() => window.UserTracking.flush())))
    await pause(500)
    expect(types().sort()).toEqual(['page_visit', 'page_visit', 'tab_a_1', 'tab_a_2', 'tab_b_1', 'tab_b_2'])
    expectEachOnce()
  })

  it('lets exactly one of two tabs opened at once take over what a closed tab left', async () => {
    const context = await newContext()
    const gone = await open(context, '/')
    await waitFor('the first page view', () => ofType('page_visit').length === 1)
    await goOffline(context, gone)
    await gone.evaluate(() => ['left_1', 'left_2', 'left_3'].forEach((type) => window.UserTracking.track(type)))
    await pause(300)
    // Closed rather than navigated away from, for the reason given in the offline test above.
    await gone.close({ runBeforeUnload: false })
    await context.setOffline(false)

    const tabs = await Promise.all([open(context, '/'), open(context, '/')])
    await waitFor('what the closed tab left', () => types().filter((type) => type.startsWith('left')).length >= 3)
    await Promise.all(tabs.map((tab) => tab.evaluate(() => window.UserTracking.flush())))
    await pause(500)
    expectEachOnce()
    expect(types().filter((type) => type.startsWith('left')).sort()).toEqual(['left_1', 'left_2', 'left_3'])
    expect(ofType('page_visit')).toHaveLength(3)
  })

  it('sends nothing with respectDoNotTrack when Chromium’s Do Not Track setting is on', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'usertracking-dnt-'))
    try {
      await mkdir(join(profile, 'Default'))
      await writeFile(join(profile, 'Default', 'Preferences'), JSON.stringify({ enable_do_not_track: true }))
      const context = await chromium.launchPersistentContext(profile, { executablePath, args: CHROMIUM_ARGS })
      contexts.push(context)
      const tab = await open(context, '/dnt')
      expect(await tab.evaluate(() => navigator.doNotTrack)).toBe('1')
      await tab.click('#buy')
      await tab.evaluate(() => window.UserTracking.track('custom_action'))
      await tab.evaluate(() => window.UserTracking.flush())
      await tab.close({ runBeforeUnload: false })
      await pause(500)
      expect(site.receipts).toEqual([])
    } finally {
      await rm(profile, { recursive: true, force: true })
    }
  })
})
