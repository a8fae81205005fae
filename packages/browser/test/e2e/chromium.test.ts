import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Activity } from '@usertracking/core'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildScript, CHROMIUM_ARGS, findChromium, page, startSite, waitFor, type TestSite } from './harness'

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
const LITE = '/usertracking-lite.js'

describe.skipIf(!executablePath && !inCi)('in Chromium, from a script tag, against the server package’s ingest over a store', () => {
  let browser: Browser
  let site: TestSite
  const contexts: BrowserContext[] = []

  // A page closed by the previous test may still have a beacon on its way: only what was tracked
  // since this test began is this test's.
  let since = ''
  const stored = async (type?: string) =>
    (await site.stored()).filter((activity) => activity.timestamp >= since && (!type || activity.activityType === type))
  const receipts = () => site.receipts.filter((receipt) => receipt.activities.every((activity) => activity.timestamp >= since))
  const typesStored = async () => (await stored()).map((activity) => activity.activityType).sort()
  /** Waits until every id is in the store, then checks each is there exactly once: none missing, none doubled. */
  const expectStoredOnce = async (ids: (string | undefined)[]) => {
    expect(ids.every(Boolean), 'every activity was recorded').toBe(true)
    const has = async () => {
      const all = new Set((await stored()).map((activity) => activity.id))
      return ids.every((id) => all.has(id!))
    }
    await waitFor(`${ids.length} activities in the store`, has).catch((error: unknown) => {
      // The pages' debug log says which tab sent what.
      console.log(logs.join('\n'))
      throw error
    })
    const all = (await stored()).map((activity) => activity.id)
    expect(ids.map((id) => all.filter((stored) => stored === id).length)).toEqual(ids.map(() => 1))
  }
  const waitForStored = (what: string, check: (activities: Activity[]) => boolean) => waitFor(what, async () => check(await stored()))
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
  const track = (tab: Page, types: string[]) => tab.evaluate((list) => list.map((type) => window.UserTracking.track(type)), types)
  const flush = (tab: Page) => tab.evaluate(() => window.UserTracking.flush())
  // setOffline resolves before the page hears of it; tracking before that would race the emulation.
  const goOffline = async (context: BrowserContext, tab: Page) => {
    await context.setOffline(true)
    await tab.waitForFunction(() => !navigator.onLine)
  }
  /** The records of the page's IndexedDB, read through the page. */
  const idbRecords = (tab: Page) =>
    tab.evaluate(async () => {
      if (!(await indexedDB.databases()).some((database) => database.name === 'usertracking')) return []
      const database = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('usertracking')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      return new Promise<string[]>((resolve) => {
        const request = database.transaction('activities').objectStore('activities').getAll()
        request.onsuccess = () => resolve((request.result as { a: { activityType: string } }[]).map((row) => row.a.activityType))
      })
    })

  beforeAll(async () => {
    if (!executablePath) {
      throw new Error('[usertracking] [browser-e2e] CI=true but Chromium is not installed; install it with apt-get install -y chromium, or set CHROMIUM_PATH.')
    }
    const [script, lite] = await Promise.all([buildScript(), buildScript('lite-script.ts')])
    site = await startSite(
      { '/usertracking.js': script, [LITE]: lite },
      {
        '/': page('Home'),
        '/slow': page('Slow', SLOW),
        '/cached': page('Cached'),
        '/consent': page('Consent', { 'require-consent': 'true' }),
        '/dnt': page('Do not track', { 'respect-do-not-track': 'true' }),
        '/lite': page('Lite', { 'flush-interval': '100' }, LITE),
        '/lite-slow': page('Lite slow', { 'flush-interval': '30000' }, LITE),
      },
    )
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS })
  })

  afterAll(async () => {
    await browser?.close()
    await site?.close()
  })

  beforeEach(() => {
    logs.length = 0
    site.reset()
    since = new Date().toISOString()
  })

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()))
  })

  it('delivers a page view, clicks, a form, a focus and an SPA navigation, with host and clean URL, without field values', async () => {
    const tab = await open(await newContext(), '/?utm_source=mail&token=s3cret')
    await tab.click('#buy')
    await tab.click('#private')
    await tab.focus('#email')
    await tab.keyboard.type('me@example.com')
    await tab.focus('#pw')
    await tab.keyboard.type('hunter2')
    await tab.click('#send')
    await tab.click('#pricing')

    await waitForStored('the SPA page view', (activities) => activities.filter((activity) => activity.activityType === 'page_visit').length === 2)
    // Resolves once everything the page recorded so far is delivered.
    await flush(tab)
    expect(await typesStored()).toEqual(
      ['page_visit', 'button_click', 'input_focus', 'button_click', 'form_submit', 'form_submit_success', 'button_click', 'time_on_page', 'page_visit'].sort(),
    )
    // Leaving the first page for the SPA route closes its engaged time.
    const [time] = await stored('time_on_page')
    expect(time?.context).toMatchObject({ page: '/', url: `${site.url}/?utm_source=mail` })
    const [home, pricing] = await stored('page_visit')
    expect(home?.metadata).toMatchObject({ path: '/', title: 'Home' })
    expect(home?.context).toMatchObject({ host: new URL(site.url).host, url: `${site.url}/?utm_source=mail` })
    expect(pricing?.metadata).toMatchObject({ path: '/pricing', title: 'Pricing', referrer: `${site.url}/?utm_source=mail` })
    expect((await stored('button_click')).map((click) => [click.context?.element, click.metadata?.text])).toEqual([
      ['buy', 'Buy now'],
      ['send', 'Sign up'],
      ['pricing', 'Pricing'],
    ])
    expect((await stored('input_focus')).map((focus) => focus.context?.element)).toEqual(['email'])
    expect((await stored('form_submit'))[0]?.context?.element).toBe('signup')
    const [first] = await stored()
    expect(first?.anonymousId).toBeTruthy()
    expect(first?.sessionId).toBeTruthy()
    expect(first?.context?.userAgent).toContain('Chrome')
    const bodies = JSON.stringify(receipts())
    expect(bodies).not.toContain('me@example.com')
    expect(bodies).not.toContain('hunter2')
    expect(bodies).not.toContain('s3cret')
    // A text/plain body keeps every request CORS-simple.
    expect(new Set(receipts().map((receipt) => receipt.contentType))).toEqual(new Set(['text/plain;charset=UTF-8']))
  })

  it('holds activities while offline, keeps them across a reload, and stores each exactly once', async () => {
    const context = await newContext()
    const tab = await open(context, '/')
    await waitForStored('the first page view', (activities) => activities.length === 1)

    await goOffline(context, tab)
    const ids = await track(tab, ['offline_1', 'offline_2', 'offline_3'])
    await waitFor('the offline activities in IndexedDB', async () => (await idbRecords(tab)).filter((type) => type.startsWith('offline')).length === 3)
    // Closed rather than navigated away from: a navigated-away document may live on for a moment
    // and hear 'online' before 'pagehide' (the cached-page test below covers navigating away).
    await tab.close({ runBeforeUnload: false })
    await context.setOffline(false)
    const next = await open(context, '/')
    await flush(next)
    await expectStoredOnce(ids)
  })

  it('resumes delivery when the browser comes back online', async () => {
    const context = await newContext()
    const tab = await open(context, '/')
    await goOffline(context, tab)
    const ids = await track(tab, ['while_offline'])
    await waitFor('the activity in IndexedDB', async () => (await idbRecords(tab)).includes('while_offline'))
    await context.setOffline(false)
    await expectStoredOnce(ids)
  })

  it('resends from the next tab what a closed tab had in a request still open (answered 503), each stored once', async () => {
    const context = await newContext()
    const tab = await open(context, '/')
    await waitForStored('the first page view', (activities) => activities.length === 1)
    site.outage = { status: 503, delayMs: 1000 }
    const ids = await track(tab, ['open_1', 'open_2', 'open_3'])
    await waitFor('their request to be open', () => site.open > 0)
    await tab.close({ runBeforeUnload: false })
    // The browser completes a keepalive request after the page is gone; here it is refused.
    await waitFor('the refused request', () => receipts().some((receipt) => receipt.status === 503 && receipt.activities.some((activity) => ids.includes(activity.id))))
    site.outage = undefined

    const next = await open(context, '/')
    await flush(next)
    await expectStoredOnce(ids)
  })

  it('keeps the time on a page left while offline for a cached page, and delivers it once online', async () => {
    const context = await newContext()
    const tab = await open(context, '/cached')
    await tab.goto(`${site.url}/`)
    await waitForStored('the page views', (activities) => activities.filter((activity) => activity.activityType === 'page_visit').length === 2)
    await goOffline(context, tab)
    const ids = await track(tab, ['offline_click'])
    await tab.click('#cached')
    await tab.waitForURL('**/cached')
    expect(await tab.title()).toBe('Cached')
    // The time on `/` reached IndexedDB, taken over by the cached page (or a later one).
    await context.setOffline(false)
    const next = await open(context, '/')
    await flush(next)
    await waitForStored('the time on the page left offline', (activities) =>
      activities.some((activity) => activity.activityType === 'time_on_page' && activity.context?.page === '/'),
    )
    const times = (await stored('time_on_page')).filter((time) => time.context?.page === '/')
    expect(times).toHaveLength(1)
    expect(times[0]!.durationMs).toBeGreaterThan(0)
    await expectStoredOnce(ids)
  })

  it('delivers a click made right before the page closes, by beacon', async () => {
    const context = await newContext()
    const tab = await open(context, '/slow')
    await tab.click('#buy')
    await tab.close({ runBeforeUnload: false })

    await waitForStored('the click sent as the page closed', (activities) => activities.some((activity) => activity.activityType === 'button_click'))
    const beacon = receipts().find((receipt) => receipt.activities.some((activity) => activity.activityType === 'button_click'))
    expect(beacon?.fetchMode).toBe('no-cors')
    expect(beacon?.contentType).toBe('text/plain;charset=UTF-8')
    expect(await stored('button_click')).toHaveLength(1)
  })

  it('splits what is pending at close into beacons that fit, and sends what the browser refused on the next visit', async () => {
    const context = await newContext()
    const tab = await open(context, '/slow')
    const ids = await tab.evaluate(() => Array.from({ length: 150 }, (_, index) => window.UserTracking.track('bulk', { index, padding: 'x'.repeat(1000) })))
    // Closed at once: a few batches are on their way by fetch, the rest is pending for the beacons.
    await tab.close({ runBeforeUnload: false })
    await waitForStored('the first beacon', (activities) => activities.some((activity) => activity.activityType === 'bulk'))

    const next = await open(context, '/slow')
    await flush(next)
    await expectStoredOnce(ids)
    // Browsers refuse a beacon or keepalive body over 64 KB; none was sent.
    for (const receipt of receipts()) expect(receipt.bytes).toBeLessThanOrEqual(64 * 1024)
  })

  it('stores what two open tabs tracked during an outage once each, after it', async () => {
    const context = await newContext()
    site.outage = { status: 503 }
    const first = await open(context, '/')
    const second = await open(context, '/')
    const ids = [...(await track(first, ['tab_a_1', 'tab_a_2'])), ...(await track(second, ['tab_b_1', 'tab_b_2']))]
    await waitFor('refused requests', () => receipts().filter((receipt) => receipt.status === 503).length >= 2)
    site.outage = undefined
    await Promise.all([first, second].map(flush))
    await expectStoredOnce(ids)
    expect(await typesStored()).toEqual(['page_visit', 'page_visit', 'tab_a_1', 'tab_a_2', 'tab_b_1', 'tab_b_2'])
  })

  it('lets two tabs opened at once take over what a closed tab left, stored once', async () => {
    const context = await newContext()
    const gone = await open(context, '/')
    await waitForStored('the first page view', (activities) => activities.length === 1)
    await goOffline(context, gone)
    const ids = await track(gone, ['left_1', 'left_2', 'left_3'])
    await waitFor('the activities in IndexedDB', async () => (await idbRecords(gone)).filter((type) => type.startsWith('left')).length === 3)
    await gone.close({ runBeforeUnload: false })
    await context.setOffline(false)

    const tabs = await Promise.all([open(context, '/'), open(context, '/')])
    await Promise.all(tabs.map(flush))
    await expectStoredOnce(ids)
  })

  it('with requireConsent, stores and sends nothing until consent, remembers it across a reload, and a refusal discards what is pending', async () => {
    const context = await newContext()
    const tab = await open(context, '/consent')
    await tab.click('#buy')
    expect(await track(tab, ['before_consent'])).toEqual([undefined])
    expect(await tab.evaluate(() => Object.keys(localStorage))).toEqual([])
    expect(await tab.evaluate(async () => (await indexedDB.databases()).length)).toBe(0)

    await tab.evaluate(() => window.UserTracking.consent(true))
    const [granted] = await track(tab, ['after_consent'])
    await flush(tab)
    await expectStoredOnce([granted])
    expect(await typesStored()).toEqual(['after_consent', 'page_visit'])

    // Remembered: the reloaded page tracks without asking again.
    await tab.reload()
    const [reloaded] = await track(tab, ['after_reload'])
    await flush(tab)
    await expectStoredOnce([reloaded])
    const [first, second] = await stored('page_visit')
    expect(second?.anonymousId).toBe(first?.anonymousId)

    // Withdrawn while offline: what is pending is discarded, in memory and in IndexedDB.
    await goOffline(context, tab)
    await track(tab, ['discarded'])
    await waitFor('the pending activity in IndexedDB', async () => (await idbRecords(tab)).includes('discarded'))
    await tab.evaluate(() => window.UserTracking.consent(false))
    await waitFor('IndexedDB to be emptied', async () => (await idbRecords(tab)).length === 0)
    expect(await tab.evaluate(() => Object.keys(localStorage))).toEqual(['usertracking:consent'])
    await context.setOffline(false)
    await tab.reload()
    expect(await track(tab, ['refused'])).toEqual([undefined])
    // Granted again: the next activity is delivered, and the discarded one never is.
    await tab.evaluate(() => window.UserTracking.consent(true))
    const [again] = await track(tab, ['granted_again'])
    await flush(tab)
    await expectStoredOnce([again])
    expect(await stored('discarded')).toEqual([])
    expect((await stored('granted_again'))[0]?.anonymousId).not.toBe(first?.anonymousId)
  })

  it('records nothing with respectDoNotTrack when Chromium’s Do Not Track setting is on', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'usertracking-dnt-'))
    try {
      await mkdir(join(profile, 'Default'))
      await writeFile(join(profile, 'Default', 'Preferences'), JSON.stringify({ enable_do_not_track: true }))
      const context = await chromium.launchPersistentContext(profile, { executablePath, args: CHROMIUM_ARGS })
      contexts.push(context)
      const tab = await open(context, '/dnt')
      expect(await tab.evaluate(() => navigator.doNotTrack)).toBe('1')
      await tab.click('#buy')
      expect(await track(tab, ['custom_action'])).toEqual([undefined])
      // Nothing recorded means nothing stored that a later visit could send, and no tracker to send it.
      expect(await tab.evaluate(() => window.UserTracking.stats())).toBeUndefined()
      expect(await tab.evaluate(() => Object.keys(localStorage))).toEqual([])
      expect(await tab.evaluate(async () => (await indexedDB.databases()).length)).toBe(0)
    } finally {
      await rm(profile, { recursive: true, force: true })
    }
  })

  describe('the lite script', () => {
    it('delivers a page view, clicks, a custom event and the time on page by beacon', async () => {
      const tab = await open(await newContext(), '/lite?utm_campaign=spring&email=me%40example.com')
      await tab.click('#buy')
      const [custom] = await track(tab, ['custom_action'])
      await tab.click('#pricing')
      // The lite build hears no answer: what it sent is known by what the store holds.
      await waitForStored('the lite activities', (activities) => activities.length === 6)
      expect(await typesStored()).toEqual(['button_click', 'button_click', 'custom_action', 'page_visit', 'page_visit', 'time_on_page'])
      await expectStoredOnce([custom])
      const [home] = await stored('page_visit')
      expect(home?.context).toMatchObject({ page: '/lite', host: new URL(site.url).host, url: `${site.url}/lite?utm_campaign=spring` })
      expect(home?.anonymousId).toBeTruthy()
      expect(home?.sessionId).toBeTruthy()
      expect((await stored('button_click'))[0]).toMatchObject({ context: { element: 'buy' }, metadata: { text: 'Buy now' } })
      // The server records the user agent from the request, as the lite build does not send it.
      expect(home?.context?.userAgent).toContain('Chrome')
      expect(receipts().every((receipt) => receipt.fetchMode === 'no-cors')).toBe(true)
    })

    it('sends what is pending when the page closes', async () => {
      const tab = await open(await newContext(), '/lite-slow')
      const ids = await track(tab, ['lite_1', 'lite_2'])
      await tab.close({ runBeforeUnload: false })
      await expectStoredOnce(ids)
      await waitForStored('the page view and the time on page', (activities) => activities.length === 4)
      expect(await typesStored()).toEqual(['lite_1', 'lite_2', 'page_visit', 'time_on_page'])
    })
  })
})
