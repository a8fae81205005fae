import { memorySink, type Activity, type MemorySink } from '@usertracking/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createUserTracking, type UserTrackingApi } from './user-tracking'
import type { UserTrackingOptions } from './options'

let sink: MemorySink
let tracking: UserTrackingApi

function start(options: UserTrackingOptions = {}): UserTrackingApi {
  tracking = createUserTracking()
  tracking.config({ sinks: [sink], debounceTime: 0, ...options })
  return tracking
}

async function delivered(type?: string): Promise<Activity[]> {
  // SPA navigations are recorded one task later, so the new title is already set.
  await new Promise((resolve) => setTimeout(resolve, 5))
  await tracking.flush()
  return type ? sink.activities.filter((activity) => activity.activityType === type) : sink.activities
}

function click(element: Element): void {
  element.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true }))
}

function setVisibility(state: 'visible' | 'hidden'): void {
  Object.defineProperty(document, 'visibilityState', { value: state, configurable: true })
  document.dispatchEvent(new Event('visibilitychange'))
}

beforeEach(() => {
  sink = memorySink()
  localStorage.clear()
  history.replaceState(null, '', '/start')
  document.title = 'Start'
  document.body.innerHTML = ''
})

afterEach(async () => {
  await tracking.shutdown()
  Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true })
})

describe('page views', () => {
  it('records the first page with its path and title, with the user agent and page in context', async () => {
    start()
    const [visit] = await delivered('page_visit')
    expect(visit?.metadata).toMatchObject({ path: '/start', title: 'Start' })
    expect(visit?.context).toMatchObject({ page: '/start', userAgent: navigator.userAgent })
    expect(visit?.anonymousId).toBeTruthy()
    expect(visit?.sessionId).toBeTruthy()
  })

  it('records single-page navigations through pushState, popstate and hashchange, with the previous page as referrer', async () => {
    start()
    history.pushState(null, '', '/pricing')
    document.title = 'Pricing'
    await delivered()
    history.replaceState({ scroll: 10 }, '', '/pricing')
    location.hash = '#plans'
    await delivered()
    window.dispatchEvent(new HashChangeEvent('hashchange'))
    history.replaceState(null, '', '/start')
    window.dispatchEvent(new PopStateEvent('popstate'))
    const visits = await delivered('page_visit')
    expect(visits.map((visit) => visit.metadata?.path)).toEqual(['/start', '/pricing', '/pricing', '/start'])
    expect(visits[1]?.metadata).toMatchObject({ title: 'Pricing', referrer: 'http://localhost:3000/start' })
    expect(visits[2]?.metadata).toMatchObject({ hash: '#plans' })
  })

  it('can be switched off', async () => {
    start({ trackPageViews: false })
    history.pushState(null, '', '/elsewhere')
    expect(await delivered('page_visit')).toEqual([])
  })
})

describe('clicks', () => {
  it('records buttons, links, [role=button] and submit inputs with id, tag and trimmed text', async () => {
    start()
    document.body.innerHTML = `
      <button id="buy">  Buy
         now  </button>
      <a href="/docs" id="docs"><span>Read the docs</span></a>
      <div role="button" id="fake">Fake button</div>
      <form onsubmit="return false"><input type="submit" id="send" value="Send"></form>
      <div id="plain">Not clickable</div>`
    click(document.querySelector('#buy')!)
    click(document.querySelector('#docs span')!)
    click(document.querySelector('#fake')!)
    click(document.querySelector('#plain')!)
    const clicks = await delivered('button_click')
    expect(clicks.map((activity) => [activity.context?.element, activity.metadata?.tag, activity.metadata?.text])).toEqual([
      ['buy', 'button', 'Buy now'],
      ['docs', 'a', 'Read the docs'],
      ['fake', 'div', 'Fake button'],
    ])
    expect(clicks[1]?.metadata?.href).toBe('/docs')
  })

  it('covers elements added after config and cuts text at 100 characters', async () => {
    start()
    const late = document.createElement('button')
    late.textContent = 'x'.repeat(300)
    document.body.append(late)
    click(late)
    const [activity] = await delivered('button_click')
    expect(activity?.metadata?.text).toBe('x'.repeat(100))
    expect(activity?.context?.element).toBeUndefined()
  })

  it('records clicks whose propagation the app stops', async () => {
    start()
    document.body.innerHTML = '<div id="wrap"><button id="stopped">Stop</button></div>'
    document.querySelector('#wrap')!.addEventListener('click', (event) => event.stopPropagation())
    click(document.querySelector('#stopped')!)
    expect(await delivered('button_click')).toHaveLength(1)
  })

  it('never records anything inside [data-usertracking-ignore]', async () => {
    start({ trackInputFocus: true })
    document.body.innerHTML = '<section data-usertracking-ignore><button id="secret">Hidden</button><input id="q"></section>'
    click(document.querySelector('#secret')!)
    document.querySelector<HTMLInputElement>('#q')!.focus()
    expect(await delivered()).toHaveLength(1)
  })

  it('stops at once when switched off by a second config()', async () => {
    start()
    document.body.innerHTML = '<button id="b">B</button>'
    tracking.config({ trackButtonClicks: false })
    click(document.querySelector('#b')!)
    expect(await delivered('button_click')).toEqual([])
  })
})

describe('forms', () => {
  it('records a submit with the form id, action and method, never field values', async () => {
    start()
    document.body.innerHTML = `<form id="signup" action="/signup" method="post"><input name="email" value="me@example.com"></form>`
    const form = document.querySelector('form')!
    form.addEventListener('submit', (event) => event.preventDefault())
    form.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }))
    const [submit] = await delivered('form_submit')
    expect(submit?.context?.element).toBe('signup')
    expect(submit?.metadata).toEqual({ action: '/signup', method: 'post' })
    expect(JSON.stringify(sink.activities)).not.toContain('me@example.com')
  })

  it('records form_submit_error once, with every invalid field, when validation blocks a submit', async () => {
    start()
    document.body.innerHTML = `<form id="f"><input name="email" required><input name="age" required><input type="password" name="pw" required></form>`
    for (const field of document.querySelectorAll('input')) field.dispatchEvent(new Event('invalid', { cancelable: true }))
    const errors = await delivered('form_submit_error')
    expect(errors).toHaveLength(1)
    expect(errors[0]?.context?.element).toBe('f')
    expect(errors[0]?.metadata).toEqual({ reason: 'validation', fields: ['email', 'age'] })
  })

  it('lets the app report the outcome with track()', async () => {
    start()
    tracking.track('form_submit_success', 'signup', { plan: 'pro' })
    const [success] = await delivered('form_submit_success')
    expect(success?.context?.element).toBe('signup')
    expect(success?.metadata).toEqual({ plan: 'pro' })
  })
})

describe('input focus', () => {
  it('is off by default', async () => {
    start()
    document.body.innerHTML = '<input id="name">'
    document.querySelector('input')!.focus()
    expect(await delivered('input_focus')).toEqual([])
  })

  it('records id, name and type but never the value, and never a password field', async () => {
    start({ trackInputFocus: true })
    document.body.innerHTML = `<input id="email" name="email" type="email" value="me@example.com"><input type="password" id="pw" value="hunter2"><textarea name="bio"></textarea>`
    document.querySelector<HTMLInputElement>('#email')!.focus()
    document.querySelector<HTMLInputElement>('#pw')!.focus()
    document.querySelector('textarea')!.focus()
    const focus = await delivered('input_focus')
    expect(focus.map((activity) => [activity.context?.element, activity.metadata])).toEqual([
      ['email', { name: 'email', type: 'email', tag: 'input' }],
      [undefined, { name: 'bio', type: 'textarea', tag: 'textarea' }],
    ])
    expect(JSON.stringify(sink.activities)).not.toMatch(/me@example.com|hunter2/)
  })
})

describe('time on page', () => {
  // Only the clock is faked, so the durations are exact while timers and delivery run for real.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(1_700_000_000_000)
  })
  afterEach(() => {
    vi.useRealTimers()
  })
  const wait = (ms: number) => vi.setSystemTime(Date.now() + ms)

  it('sends the visible time when the page is hidden, and counts no hidden time', async () => {
    start()
    wait(40_000)
    setVisibility('hidden')
    wait(600_000)
    setVisibility('visible')
    wait(20_000)
    window.dispatchEvent(new PageTransitionEvent('pagehide'))
    const times = await delivered('time_on_page')
    expect(times.map((time) => [time.durationMs, time.context?.page])).toEqual([
      [40_000, '/start'],
      [20_000, '/start'],
    ])
  })

  it('closes the previous page on a single-page navigation', async () => {
    start()
    wait(15_000)
    history.pushState(null, '', '/next')
    const [time] = await delivered('time_on_page')
    expect(time?.context?.page).toBe('/start')
    expect(time?.durationMs).toBe(15_000)
  })
})

describe('track, identify, reset', () => {
  it('records track(action, elementId, data) as activityType, context.element and metadata', async () => {
    start({ trackPageViews: false })
    const id = tracking.track('custom_action', 'element-id', { custom_data: 'value' })
    tracking.track('no_element', { only: 'data' })
    const [first, second] = await delivered()
    expect(first).toMatchObject({ id, activityType: 'custom_action', context: { element: 'element-id' }, metadata: { custom_data: 'value' } })
    expect(second).toMatchObject({ activityType: 'no_element', metadata: { only: 'data' } })
  })

  it('keeps the anonymous id across visits and attaches the user after identify, until reset', async () => {
    start({ trackPageViews: false })
    tracking.track('first')
    const [first] = await delivered()
    await tracking.shutdown()
    start({ trackPageViews: false })
    tracking.identify('user-42', { plan: 'pro' })
    tracking.track('signed_in_action')
    tracking.reset()
    tracking.track('after_reset')
    const [, identify, action, after] = await delivered()
    expect(identify).toMatchObject({ activityType: 'identify', userId: 'user-42', anonymousId: first!.anonymousId, metadata: { plan: 'pro' } })
    expect(action).toMatchObject({ userId: 'user-42', anonymousId: first!.anonymousId })
    expect(after?.userId).toBeUndefined()
    expect(after?.anonymousId).not.toBe(first!.anonymousId)
    expect(after?.sessionId).not.toBe(action!.sessionId)
  })

  it('tracks nothing with respectDoNotTrack when the browser sends Do Not Track', async () => {
    Object.defineProperty(navigator, 'doNotTrack', { value: '1', configurable: true })
    try {
      start({ respectDoNotTrack: true })
      expect(tracking.track('anything')).toBeUndefined()
      expect(await delivered()).toEqual([])
    } finally {
      Object.defineProperty(navigator, 'doNotTrack', { value: 'unspecified', configurable: true })
    }
  })

  it('hands pending activities to the new tracker when delivery settings change', async () => {
    let open = false
    const gated = memorySink({ respond: () => (open ? undefined : { type: 'retryable', retryInMs: 10 }) })
    sink = gated
    start({ trackPageViews: false, maxRetries: 100 })
    tracking.track('before_change')
    await new Promise((resolve) => setTimeout(resolve, 30))
    tracking.config({ batchSize: 5 })
    tracking.track('after_change')
    open = true
    expect((await delivered()).map((activity) => activity.activityType)).toEqual(['before_change', 'after_change'])
  })
})

describe('the site, the URL and properties', () => {
  it('records the host and the URL without query parameters but utm_*, and without the fragment', async () => {
    history.replaceState(null, '', '/start?utm_source=news&utm_medium=mail&token=s3cret&email=me%40example.com#access_token=abc')
    start()
    const [visit] = await delivered('page_visit')
    expect(visit?.context).toMatchObject({
      page: '/start',
      host: 'localhost:3000',
      url: 'http://localhost:3000/start?utm_source=news&utm_medium=mail',
    })
    expect(visit?.metadata?.hash).toBeUndefined()
    expect(JSON.stringify(sink.activities)).not.toMatch(/s3cret|example\.com|access_token/)
  })

  it('keeps the query parameters keepQueryParameters names, and strips the referrer and the page left the same way', async () => {
    history.replaceState(null, '', '/start?ref=home&q=shoes&session=abc')
    start({ keepQueryParameters: ['q'] })
    history.pushState(null, '', '/next?q=boots&session=def')
    const visits = await delivered('page_visit')
    expect(visits.map((visit) => visit.context?.url)).toEqual(['http://localhost:3000/start?q=shoes', 'http://localhost:3000/next?q=boots'])
    expect(visits[1]?.metadata?.referrer).toBe('http://localhost:3000/start?q=shoes')
    tracking.config({ keepQueryParameters: ['*'] })
    tracking.track('everything_kept')
    const [kept] = await delivered('everything_kept')
    expect(kept?.context?.url).toBe('http://localhost:3000/next?q=boots&session=def')
  })

  it('reports time on page with the URL of the page left, not the one navigated to', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      start()
      vi.setSystemTime(Date.now() + 5000)
      history.pushState(null, '', '/next?utm_campaign=spring')
      const [time] = await delivered('time_on_page')
      expect(time?.context).toMatchObject({ page: '/start', url: 'http://localhost:3000/start' })
    } finally {
      vi.useRealTimers()
    }
  })

  it('sends config properties and registered ones in every activity’s metadata, under the activity’s own keys', async () => {
    start({ trackPageViews: false, properties: { site: 'shop-1', plan: 'free' } })
    tracking.register({ plan: 'pro', locale: 'en' })
    tracking.track('bought', 'buy', { plan: 'own', amount: 3 })
    tracking.track('plain')
    const [bought, plain] = await delivered()
    expect(bought?.metadata).toEqual({ site: 'shop-1', plan: 'own', locale: 'en', amount: 3 })
    expect(plain?.metadata).toEqual({ site: 'shop-1', plan: 'pro', locale: 'en' })
  })

  it('refuses metadata that is not an object as invalid, rather than merging its indexes with the properties', async () => {
    start({ trackPageViews: false, properties: { site: 'shop-1' } })
    // What a script without types can pass.
    const track = tracking.track as (action: string, elementId: string, data: unknown) => string | undefined
    expect(track('text', 'el', 'not an object')).toBeUndefined()
    expect(track('list', 'el', ['a', 'b'])).toBeUndefined()
    expect(track('ok', 'el', undefined)).toBeDefined()
    expect((await delivered()).map((activity) => [activity.activityType, activity.metadata])).toEqual([['ok', { site: 'shop-1' }]])
    expect(tracking.stats()).toMatchObject({ droppedByReason: { invalid: 2 } })
  })
})

describe('consent', () => {
  const set = (name: 'globalPrivacyControl' | 'doNotTrack', value: unknown) => Object.defineProperty(navigator, name, { value, configurable: true })
  afterEach(() => {
    set('globalPrivacyControl', undefined)
    set('doNotTrack', 'unspecified')
  })

  it('with requireConsent, records and stores nothing until consent(true), then starts with the page view', async () => {
    start({ requireConsent: true })
    document.body.innerHTML = '<button id="b">B</button>'
    click(document.querySelector('#b')!)
    expect(tracking.track('before_consent')).toBeUndefined()
    tracking.identify('user-1')
    expect(tracking.stats()).toBeUndefined()
    expect(Object.keys(localStorage)).toEqual([])

    tracking.consent(true)
    click(document.querySelector('#b')!)
    const activities = await delivered()
    expect(activities.map((activity) => activity.activityType)).toEqual(['page_visit', 'button_click'])
    // A user named before consent is remembered once something may be stored.
    expect(activities[0]?.userId).toBe('user-1')
    expect(localStorage.getItem('usertracking:consent')).toBe('1')
  })

  it('remembers the choice across visits: granted tracks at once, refused tracks nothing', async () => {
    start({ requireConsent: true, trackPageViews: false })
    tracking.consent(true)
    await tracking.shutdown()
    start({ requireConsent: true, trackPageViews: false })
    const id = tracking.track('next_visit')
    expect(id).toBeTruthy()
    expect((await delivered()).map((activity) => activity.id)).toEqual([id])
    tracking.consent(false)
    await tracking.shutdown()
    start({ trackPageViews: false })
    expect(tracking.track('refused_earlier')).toBeUndefined()
    expect(localStorage.getItem('usertracking:consent')).toBe('0')
  })

  it('consent(false) discards what is pending, forgets the ids, and consent(true) starts afresh', async () => {
    let open = false
    sink = memorySink({ respond: () => (open ? undefined : { type: 'retryable', retryInMs: 5 }) })
    start({ trackPageViews: false, maxRetries: 1000 })
    tracking.track('pending_1')
    tracking.track('pending_2')
    const anonymousId = localStorage.getItem('usertracking:aid')
    expect(anonymousId).toBeTruthy()
    tracking.consent(false)
    expect(tracking.track('after_refusal')).toBeUndefined()
    expect(localStorage.getItem('usertracking:aid')).toBeNull()

    open = true
    tracking.consent(true)
    tracking.track('after_consent')
    const delivered = sink.activities
    await tracking.flush()
    expect(delivered.map((activity) => activity.activityType)).toEqual(['after_consent'])
    expect(delivered[0]?.anonymousId).not.toBe(anonymousId)
  })

  it('honours Global Privacy Control when asked, unless the visitor granted consent on the site', async () => {
    set('globalPrivacyControl', true)
    start({ respectGlobalPrivacyControl: true, trackPageViews: false })
    expect(tracking.track('with_gpc')).toBeUndefined()
    expect(Object.keys(localStorage)).toEqual([])
    tracking.consent(true)
    expect(tracking.track('granted')).toBeTruthy()
    expect((await delivered()).map((activity) => activity.activityType)).toEqual(['granted'])
  })

  it('ignores Global Privacy Control unless asked', async () => {
    set('globalPrivacyControl', true)
    start({ trackPageViews: false })
    expect(tracking.track('tracked')).toBeTruthy()
  })
})

describe('the host page never sees a tracking error', () => {
  it('explains a misconfiguration on the console instead of throwing', () => {
    const errors: unknown[] = []
    const spy = vi.spyOn(console, 'error').mockImplementation((...args) => void errors.push(args[0]))
    try {
      tracking = createUserTracking()
      expect(() => tracking.config({ debounceTime: 0 })).not.toThrow()
      expect(() => tracking.config({ sinks: [sink], batchSize: 0 })).not.toThrow()
      expect(tracking.track('nothing')).toBeUndefined()
    } finally {
      spy.mockRestore()
    }
    expect(String(errors[0])).toBe('[usertracking] [browser] config() needs an endpoint (or sinks).')
    expect(String(errors[1])).toMatch(/options\.batchSize must be a number of at least 1/)
  })

  it('survives a sink that throws, a logger that throws, and bad input', async () => {
    const logger = { debug: () => {}, warn: () => {}, error: () => {} }
    logger.debug = logger.error = () => {
      throw new Error('broken logger')
    }
    tracking = createUserTracking()
    tracking.config({ debug: logger, debounceTime: 0, sinks: [{ name: 'broken', write: () => { throw new Error('boom') } }] })
    expect(() => tracking.track('ok')).not.toThrow()
    expect(() => tracking.track(undefined as unknown as string)).not.toThrow()
    expect(() => tracking.track('cyclic', 'el', (() => { const o: Record<string, unknown> = {}; o.self = o; return o as never })())).not.toThrow()
    expect(() => tracking.config(null as never)).not.toThrow()
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(tracking.stats()?.droppedByReason.invalid).toBe(2)
    await tracking.shutdown(0)
  })
})

describe('a page left while offline', () => {
  const setOnline = (online: boolean) => {
    Object.defineProperty(navigator, 'onLine', { value: online, configurable: true })
    window.dispatchEvent(new Event(online ? 'online' : 'offline'))
  }
  afterEach(() => {
    vi.useRealTimers()
    setOnline(true)
  })

  it('starts no delivery when it hears `online` after pagehide (the next tab owns its activities), until it is shown again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
    start({ trackPageViews: false })
    setOnline(false)
    tracking.track('offline_click')
    window.dispatchEvent(new PageTransitionEvent('pagehide'))
    setOnline(true)
    // A minute passes: every batch, debounce and retry timer due in it runs, with the promises in
    // between, so a delivery the page would start on hearing `online` has been made by now.
    await vi.advanceTimersByTimeAsync(60_000)
    expect(sink.activities).toEqual([])
    window.dispatchEvent(new PageTransitionEvent('pageshow'))
    await vi.advanceTimersByTimeAsync(60_000)
    expect(sink.activities.map((activity) => activity.activityType)).toEqual(['offline_click'])
  })
})
