import type { Activity } from '@usertracking/core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { startLoopbackIngest, type LoopbackIngest } from '../test/loopback-ingest'
import { createLiteTracking, type LiteTrackingApi } from './lite-tracking'
import type { LiteTrackingOptions } from './options'

let ingest: LoopbackIngest
let endpoint = ''
let tracking: LiteTrackingApi

beforeAll(async () => {
  ingest = await startLoopbackIngest()
  endpoint = ingest.url
})

afterAll(() => ingest.close())

beforeEach(() => {
  ingest.received.length = 0
  localStorage.clear()
  history.replaceState(null, '', '/start?utm_source=news&token=s3cret')
  document.title = 'Start'
  document.body.innerHTML = ''
})

afterEach(() => {
  // Removes the listeners: a lite tracker has no shutdown, withdrawing consent is the way to stop it.
  tracking.consent(false)
  localStorage.clear()
  Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true })
  Object.defineProperty(navigator, 'onLine', { value: true, configurable: true })
})

function start(options: LiteTrackingOptions = {}): LiteTrackingApi {
  tracking = createLiteTracking()
  tracking.config({ endpoint, ...options })
  return tracking
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let tries = 0; !check(); tries++) {
    if (tries > 200) throw new Error(`Timed out waiting for ${what}.`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Every activity the ingest received, in arrival order. */
const received = (): Activity[] => ingest.received.flatMap((request) => request.activities)
const types = () => received().map((activity) => activity.activityType)

describe('the lite tracker', () => {
  it('sends a page view, a click, a custom event and the time on page by beacon, with the site and a clean URL', async () => {
    start()
    document.body.innerHTML = '<button id="buy"> Buy  now </button>'
    document.querySelector('#buy')!.dispatchEvent(new MouseEvent('click', { bubbles: true }))
    const id = tracking.track('custom_action', 'element-id', { custom_data: 'value' })
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true })
    document.dispatchEvent(new Event('visibilitychange'))
    await until('four activities', () => received().length === 4)

    expect(types()).toEqual(['page_visit', 'button_click', 'custom_action', 'time_on_page'])
    const [visit, click, custom] = received()
    expect(visit?.context).toEqual({ page: '/start', host: 'localhost:3000', url: 'http://localhost:3000/start?utm_source=news' })
    expect(visit?.metadata).toMatchObject({ path: '/start', title: 'Start' })
    expect(click).toMatchObject({ context: { element: 'buy' }, metadata: { tag: 'button', text: 'Buy now' } })
    expect(custom).toMatchObject({ id, context: { element: 'element-id' }, metadata: { custom_data: 'value' } })
    expect(custom?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(custom?.anonymousId).toBe(localStorage.getItem('usertracking:aid'))
    expect(custom?.sessionId).toBeTruthy()
    expect(JSON.stringify(received())).not.toContain('s3cret')
  })

  it('sends a batch a flushInterval after its first activity, and on flush()', async () => {
    start({ trackPageViews: false, flushInterval: 20 })
    tracking.track('timed')
    await until('the timed batch', () => received().length === 1)
    tracking.track('flushed')
    expect(await tracking.flush()).toBe(true)
    await until('the flushed activity', () => received().length === 2)
    expect(types()).toEqual(['timed', 'flushed'])
  })

  it('sends properties, registered ones and the user in every activity, and reset() starts a new visitor', async () => {
    start({ trackPageViews: false, properties: { site: 'shop-1' } })
    tracking.register({ plan: 'pro' })
    tracking.identify('user-7', { via: 'password' })
    tracking.track('bought', { plan: 'own' })
    const before = localStorage.getItem('usertracking:aid')
    tracking.reset()
    tracking.track('after_reset')
    await tracking.flush()
    await until('three activities', () => received().length === 3)
    const [identify, bought, after] = received()
    expect(identify).toMatchObject({ userId: 'user-7', metadata: { site: 'shop-1', plan: 'pro', via: 'password' } })
    expect(bought).toMatchObject({ userId: 'user-7', anonymousId: before, metadata: { site: 'shop-1', plan: 'own' } })
    expect(after?.userId).toBeUndefined()
    expect(after?.anonymousId).not.toBe(before)
    expect(after?.sessionId).not.toBe(bought?.sessionId)
  })

  it('drops what the store would refuse, and never throws', async () => {
    start({ trackPageViews: false })
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(tracking.track('')).toBeUndefined()
    expect(tracking.track(42 as unknown as string)).toBeUndefined()
    expect(tracking.track('x'.repeat(201))).toBeUndefined()
    expect(tracking.track('cyclic', cyclic as never)).toBeUndefined()
    expect(tracking.track('huge', { text: 'x'.repeat(20_000) })).toBeUndefined()
    expect(tracking.track('fine')).toBeTruthy()
    await tracking.flush()
    await until('the valid activity', () => received().length === 1)
    expect(types()).toEqual(['fine'])
  })

  it('keeps what it tracked offline and sends it once online', async () => {
    start({ trackPageViews: false })
    Object.defineProperty(navigator, 'onLine', { value: false, configurable: true })
    tracking.track('offline')
    expect(await tracking.flush()).toBe(false)
    Object.defineProperty(navigator, 'onLine', { value: true, configurable: true })
    window.dispatchEvent(new Event('online'))
    await until('the offline activity', () => received().length === 1)
    expect(types()).toEqual(['offline'])
  })

  it('with requireConsent stores and sends nothing until consent(true), remembers it, and consent(false) discards what is pending', async () => {
    start({ requireConsent: true, flushInterval: 60_000 })
    expect(tracking.track('before')).toBeUndefined()
    expect(Object.keys(localStorage)).toEqual([])
    tracking.consent(true)
    tracking.track('granted')
    expect(await tracking.flush()).toBe(true)
    await until('the page view and the granted activity', () => received().length === 2)

    // Remembered on the next visit; then withdrawn, which discards what waits and forgets the ids.
    tracking.consent(false)
    start({ requireConsent: true, flushInterval: 60_000 })
    expect(tracking.track('refused')).toBeUndefined()
    tracking.consent(true)
    tracking.track('pending')
    tracking.consent(false)
    expect(Object.keys(localStorage)).toEqual(['usertracking:consent'])
    // Granted again: had 'pending' been kept, it would go in the same beacon as 'next'.
    tracking.consent(true)
    tracking.track('next')
    await tracking.flush()
    await until('the next activity', () => types().includes('next'))
    // The page view that came with 'pending' was discarded with it.
    expect(types()).toEqual(['page_visit', 'granted', 'page_visit', 'next'])
  })

  it('stops and discards what waits when another tab withdraws consent, before its next beacon', async () => {
    start({ trackPageViews: false, flushInterval: 60_000 })
    tracking.track('waiting')
    // What another tab's consent(false) leaves in the shared localStorage.
    localStorage.clear()
    localStorage.setItem('usertracking:consent', '0')
    expect(await tracking.flush()).toBe(true)
    expect(tracking.track('after')).toBeUndefined()
    expect(Object.keys(localStorage)).toEqual(['usertracking:consent'])
    // Granted again: had 'waiting' been kept, it would go in the same beacon as 'granted'.
    tracking.consent(true)
    tracking.track('granted')
    await tracking.flush()
    await until('the granted activity', () => received().length > 0)
    expect(types()).toEqual(['granted'])
  })

  it('stays silent with respectDoNotTrack when the browser sends Do Not Track', () => {
    Object.defineProperty(navigator, 'doNotTrack', { value: '1', configurable: true })
    try {
      start({ respectDoNotTrack: true })
      expect(tracking.track('anything')).toBeUndefined()
      expect(Object.keys(localStorage)).toEqual([])
    } finally {
      Object.defineProperty(navigator, 'doNotTrack', { value: 'unspecified', configurable: true })
    }
  })

  it('reports a debug line for a drop, and survives a logger that throws', () => {
    const warn = vi.fn(() => {
      throw new Error('broken logger')
    })
    start({ trackPageViews: false, debug: { debug: () => {}, warn, error: () => {} } })
    expect(() => tracking.track('')).not.toThrow()
    expect(warn).toHaveBeenCalledWith('[usertracking] Dropped: invalid.', { activityType: '', context: undefined, metadata: undefined })
  })
})
