import { http, HttpResponse, delay } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Activity } from './activity'
import { httpSink } from './http-sink'
import { createTracker } from './tracker'

const url = 'http://127.0.0.1:9/api/activity'
const server = setupServer()
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => server.resetHandlers())
afterAll(() => server.close())

/** Records every request body the endpoint receives. */
function received() {
  const bodies: { activities: Activity[] }[] = []
  const headers: Headers[] = []
  return {
    bodies,
    headers,
    ids: () => bodies.flatMap((body) => body.activities.map((activity) => activity.activityType)),
    async take(request: Request) {
      headers.push(request.headers)
      bodies.push((await request.json()) as { activities: Activity[] })
    },
  }
}

const fast = { retryBaseDelayMs: 5, retryMaxDelayMs: 20, debounceTime: 0 }

describe('httpSink through a tracker', () => {
  it('retries a 500 and delivers on the following 200', async () => {
    const log = received()
    let calls = 0
    server.use(
      http.post(url, async ({ request }) => {
        await log.take(request)
        return ++calls === 1 ? new HttpResponse(null, { status: 500 }) : HttpResponse.json({ ok: true })
      }),
    )
    const tracker = createTracker({ sinks: [httpSink({ url })], ...fast })
    tracker.track({ activityType: 'a' })
    expect(await tracker.flush(5000)).toBe(true)
    expect(log.ids()).toEqual(['a', 'a'])
    expect(tracker.stats()).toMatchObject({ sent: 1, retried: 1, dropped: 0 })
  })

  it('waits for Retry-After on a 429', async () => {
    const times: number[] = []
    server.use(
      http.post(url, () => {
        times.push(Date.now())
        return times.length === 1 ? new HttpResponse(null, { status: 429, headers: { 'Retry-After': '1' } }) : new HttpResponse(null, { status: 204 })
      }),
    )
    const tracker = createTracker({ sinks: [httpSink({ url })], ...fast })
    tracker.track({ activityType: 'a' })
    expect(await tracker.flush(5000)).toBe(true)
    expect(times).toHaveLength(2)
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950)
  })

  it('drops a batch the endpoint refuses with 400 and reports it', async () => {
    server.use(http.post(url, () => HttpResponse.json({ error: 'bad' }, { status: 400 })))
    const drops: string[] = []
    const tracker = createTracker({ sinks: [httpSink({ url })], ...fast, onDrop: (reason) => drops.push(reason) })
    tracker.track({ activityType: 'a' })
    // What the flush waited for was dropped, not delivered.
    expect(await tracker.flush(5000)).toBe(false)
    expect(drops).toEqual(['permanent_failure'])
    expect(tracker.stats()).toMatchObject({ sent: 0, failed: 1 })
  })

  it('retries a network error', async () => {
    const log = received()
    let calls = 0
    server.use(
      http.post(url, async ({ request }) => {
        if (++calls === 1) return HttpResponse.error()
        await log.take(request)
        return new HttpResponse(null, { status: 200 })
      }),
    )
    const tracker = createTracker({ sinks: [httpSink({ url })], ...fast })
    tracker.track({ activityType: 'a' })
    expect(await tracker.flush(5000)).toBe(true)
    expect(log.ids()).toEqual(['a'])
    expect(tracker.stats().retried).toBe(1)
  })

  it('aborts a request that never answers and delivers on the retry', async () => {
    let calls = 0
    server.use(
      http.post(url, async () => {
        if (++calls === 1) await delay('infinite')
        return new HttpResponse(null, { status: 200 })
      }),
    )
    const tracker = createTracker({ sinks: [httpSink({ url, timeoutMs: 200 })], ...fast })
    tracker.track({ activityType: 'a' })
    expect(await tracker.flush(5000)).toBe(true)
    expect(calls).toBe(2)
    expect(tracker.stats()).toMatchObject({ sent: 1, retried: 1 })
  })

  it('splits a batch the endpoint finds too large (413)', async () => {
    const log = received()
    server.use(
      http.post(url, async ({ request }) => {
        const body = (await request.clone().json()) as { activities: Activity[] }
        if (body.activities.length > 2) return new HttpResponse(null, { status: 413 })
        await log.take(request)
        return new HttpResponse(null, { status: 200 })
      }),
    )
    const tracker = createTracker({ sinks: [httpSink({ url })], ...fast, batchSize: 8 })
    for (let index = 0; index < 5; index++) tracker.track({ activityType: `a${index}` })
    expect(await tracker.flush(5000)).toBe(true)
    expect(log.ids()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4'])
  })

  it('asks an async headers function per request, and treats its failure as retryable', async () => {
    const log = received()
    server.use(
      http.post(url, async ({ request }) => {
        await log.take(request)
        return new HttpResponse(null, { status: 200 })
      }),
    )
    let token = 0
    const sink = httpSink({
      url,
      headers: async () => {
        if (++token === 1) throw new Error('token service down')
        return { authorization: `Bearer t${token}` }
      },
    })
    const tracker = createTracker({ sinks: [sink], ...fast })
    tracker.track({ activityType: 'a' })
    expect(await tracker.flush(5000)).toBe(true)
    expect(log.headers.map((headers) => headers.get('authorization'))).toEqual(['Bearer t2'])
    expect(log.headers[0]!.get('content-type')).toBe('application/json')
  })
})
