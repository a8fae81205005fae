import { request as httpRequest } from 'node:http'
import { activitySchema, memoryStore, normalizeActivity, type Activity, type Store } from '@usertracking/core'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { ActivityHandlerOptions } from './handler'
import { ADMIN, as, startServer as startOn, TRANSPORTS, type TestServer } from '../test/test-server'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function post(path: string, body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server!.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } })
}

async function all(store: Store): Promise<Activity[]> {
  return (await store.list({ limit: 1000 })).items
}

describe.each(TRANSPORTS)('through the %s', (transport) => {
  const startServer = (options?: Partial<ActivityHandlerOptions>) => startOn(options, transport)

  describe('ingest: the five apps', () => {
    it('AI app: logs a resume generation with seconds, a bare token count and metadata', async () => {
      server = await startServer()
      const response = await post(
        '/api/activity',
        '{"userId":"abc123","activityType":"resume_generation","description":"Tailored resume for Amazon job","timestamp":"2025-07-06T10:05:00Z","tokenUsage":1420,"timeTaken":3.2,"metadata":{"jobTitle":"Data Engineer","resumeLength":"2 pages"}}',
        as('abc123'),
      )
      expect(response.status).toBe(200)
      const body = (await response.json()) as { accepted: number; ids: string[] }
      expect(body).toEqual({ accepted: 1, ids: [expect.any(String)] })
      const [stored] = await all(server.store)
      expect(stored).toMatchObject({
        id: body.ids[0],
        userId: 'abc123',
        activityType: 'resume_generation',
        timestamp: '2025-07-06T10:05:00.000Z',
        durationMs: 3200,
        tokenUsage: { total: 1420 },
        metadata: { jobTitle: 'Data Engineer', resumeLength: '2 pages' },
        context: { ip: '127.0.0.1', userAgent: expect.any(String) },
      })
      expect(Date.now() - Date.parse(stored!.receivedAt!)).toBeLessThan(60_000)
    })

    it('backend events: answers 201, keeps the action time and the receive time, and lists by user_id', async () => {
      server = await startServer()
      // The events backend signs its requests in as a service principal allowed to write for any user.
      const response = await post(
        '/api/event',
        '{"user_id":6,"event_action_timestamp":"2025-10-10T18:30:00Z","action":"deleted","metadata":{"ip":"192.168.1.10","device":"iPhone 14","location":"Kyiv, Ukraine"}}',
        ADMIN,
      )
      expect(response.status).toBe(201)
      const list = await fetch(`${server.url}/api/events?user_id=6&from=2025-10-10T00:00:00Z&to=2025-10-11T00:00:00Z`, { headers: ADMIN })
      const { items } = (await list.json()) as { items: Activity[] }
      expect(items).toHaveLength(1)
      expect(items[0]).toMatchObject({ userId: '6', activityType: 'deleted', timestamp: '2025-10-10T18:30:00.000Z', metadata: { device: 'iPhone 14' } })
      expect(items[0]!.receivedAt).not.toBe(items[0]!.timestamp)
      const stats = await (await fetch(`${server.url}/api/activities/stats?interval=4h&per=user`, { headers: ADMIN })).json()
      expect(stats.buckets).toEqual([{ start: '2025-10-10T16:00:00.000Z', key: '6', count: 1, tokens: 0, cost: 0 }])
    })

    it('web analytics: accepts a beacon batch sent as text/plain', async () => {
      server = await startServer()
      const visitor = 'anon-7f3a'
      const beacon = {
        activities: [
          { activityType: 'page_view', anonymousId: visitor, sessionId: 's1', context: { page: '/pricing', referrer: 'https://google.com' } },
          { activityType: 'time_on_page', anonymousId: visitor, sessionId: 's1', durationMs: 41_250, context: { page: '/pricing' } },
          { activityType: 'click', anonymousId: visitor, sessionId: 's1', context: { page: '/pricing', element: 'cta-start' } },
        ],
      }
      const response = await post('/api/activity', JSON.stringify(beacon), { 'content-type': 'text/plain;charset=UTF-8' })
      expect(response.status).toBe(200)
      expect(((await response.json()) as { accepted: number }).accepted).toBe(3)
      const stats = await (await fetch(`${server.url}/api/activities/stats`, { headers: ADMIN })).json()
      expect(stats).toMatchObject({ total: 3, uniqueUsers: 0, recent: { total: 3 } })
    })

    it('auto-tracking site: takes element ids, page URLs and an anonymous id, and records IP and user agent', async () => {
      server = await startServer({ trustProxy: 1 })
      const response = await post(
        '/api/activity',
        JSON.stringify([
          { action: 'button_click', element_id: 'buy-now', page_url: 'https://shop.example/p/1', user_identifier: 'ut_9c1', metadata: { custom_data: 'value' } },
          { action: 'form_submit', element_id: 'signup', page_url: 'https://shop.example/signup', user_identifier: 'ut_9c1', status: 'error', error: 'Email taken' },
        ]),
        { 'x-forwarded-for': '203.0.113.9', 'user-agent': 'Mozilla/5.0 (test)' },
      )
      expect(response.status).toBe(200)
      const rows = await all(server.store)
      expect(rows.map((row) => row.context)).toEqual([
        { element: 'signup', page: 'https://shop.example/signup', ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (test)' },
        { element: 'buy-now', page: 'https://shop.example/p/1', ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (test)' },
      ])
      expect(rows[0]).toMatchObject({ anonymousId: 'ut_9c1', status: 'error', error: 'Email taken' })
    })

    it('LLM gateway: logs completions with OpenAI usage, a session id and a JSON string of details', async () => {
      server = await startServer()
      const response = await post(
        '/api/activity',
        JSON.stringify([
          { user_id: 42, action: 'session_create', session_id: 'sess-1' },
          {
            user_id: 42,
            action: 'chat_completion',
            session_id: 'sess-1',
            tokenUsage: { prompt_tokens: 812, completion_tokens: 230 },
            details: '{"model":"gpt-4o","temperature":0.2}',
            duration_ms: 1840,
          },
          { user_id: 42, action: 'message_sent', session_id: 'sess-1' },
        ]),
        as('42'),
      )
      expect(response.status).toBe(200)
      const stats = await (await fetch(`${server.url}/api/activities/stats`, { headers: as('42') })).json()
      expect(stats).toMatchObject({ total: 3, uniqueUsers: 1, tokens: { input: 812, output: 230, total: 1042 }, duration: { avgMs: 1840 } })
      const completions = await (await fetch(`${server.url}/api/activities?activityType=chat_completion`, { headers: as('42') })).json()
      expect(completions.items[0]).toMatchObject({ sessionId: 'sess-1', metadata: { model: 'gpt-4o', temperature: 0.2 } })
    })
  })

  /** Sends raw bytes with node:http, for bodies fetch will not send (invalid UTF-8 is fine; a lying Content-Length is not). */
  function rawPost(url: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(url, { method: 'POST', headers }, (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (text += chunk))
        response.on('end', () => resolve({ status: response.statusCode!, body: text }))
      })
      request.on('error', reject)
      request.end(body)
    })
  }

  describe('ingest: hostile requests', () => {
    const nested = (depth: number) => `{"activityType":"x","metadata":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`
    const cases: { name: string; body: BodyInit; type?: string; status: number }[] = [
      { name: 'malformed JSON', body: '{"activityType": "x",', status: 400 },
      { name: 'an empty body', body: '', status: 400 },
      { name: 'JSON that is not an object', body: '"just a string"', status: 400 },
      { name: 'null', body: 'null', status: 400 },
      { name: 'an empty array', body: '[]', status: 400 },
      { name: 'metadata nested 40 levels deep', body: nested(40), status: 400 },
      { name: 'arrays nested 200000 levels deep', body: '['.repeat(200_000) + ']'.repeat(200_000), status: 400 },
      { name: 'a __proto__ key carrying the fields', body: '{"__proto__":{"activityType":"x"}}', status: 400 },
      { name: 'a constructor.prototype key', body: '{"constructor":{"prototype":{"activityType":"x"}}}', status: 400 },
      { name: 'a 10 MB body', body: JSON.stringify({ activityType: 'x', description: 'y'.repeat(10 * 1024 * 1024) }), status: 413 },
      { name: 'a number as activityType', body: '{"activityType":42}', status: 400 },
      { name: 'a string as tokenUsage', body: '{"activityType":"x","tokenUsage":"lots"}', status: 400 },
      { name: 'a negative duration', body: '{"activityType":"x","durationMs":-5}', status: 400 },
      { name: 'an impossible date', body: '{"activityType":"x","timestamp":"2025-13-45T99:00:00Z"}', status: 400 },
      { name: 'a non-UUID id', body: '{"activityType":"x","id":"1 OR 1=1"}', status: 400 },
      { name: 'one bad activity in a batch of good ones', body: '[{"activityType":"x"},{"activityType":"y"},{"activityType":""}]', status: 400 },
      { name: '5000 activities in one request', body: JSON.stringify(Array.from({ length: 5000 }, () => ({ type: 'a' }))), status: 413 },
      { name: 'a huge array of numbers', body: `[${'1,'.repeat(400_000)}1]`, status: 413 },
      { name: 'a form content type', body: 'activityType=x', type: 'application/x-www-form-urlencoded', status: 415 },
      { name: 'an XML content type', body: '<activity/>', type: 'application/xml', status: 415 },
      { name: 'no content type', body: new Uint8Array(Buffer.from('{"activityType":"x"}')), type: '', status: 415 },
    ]

    for (const testCase of cases) {
      it(`answers ${testCase.name} with ${testCase.status} and stores nothing`, async () => {
        server = await startServer()
        const headers: Record<string, string> = testCase.type === '' ? {} : { 'content-type': testCase.type ?? 'application/json' }
        const response = await fetch(`${server.url}/api/activity`, { method: 'POST', body: testCase.body, headers })
        expect(response.status).toBe(testCase.status)
        const body = (await response.json()) as { error: string }
        expect(body.error).toEqual(expect.any(String))
        expect(server.store.size).toBe(0)
      })
    }

    it('names the offending fields with their paths, batch index first', async () => {
      server = await startServer()
      const response = await post('/api/activity', '{"activities":[{"activityType":"ok"},{"activityType":"x","tokenUsage":{"input":-1},"metadata":{"n":{"deep":[1,{"f":"x"}]}},"status":"maybe"}]}')
      expect(response.status).toBe(400)
      const { issues } = (await response.json()) as { issues: { path: (string | number)[] }[] }
      expect(issues.map((issue) => issue.path)).toEqual(
        expect.arrayContaining([
          ['activities', 1, 'tokenUsage', 'input'],
          ['activities', 1, 'status'],
        ]),
      )
      expect(server.store.size).toBe(0)
    })

    it('refuses invalid UTF-8 with 400', async () => {
      server = await startServer()
      const bytes = Buffer.concat([Buffer.from('{"activityType":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')])
      const response = await rawPost(`${server.url}/api/activity`, bytes, { 'content-type': 'application/json' })
      expect(response.status).toBe(400)
      expect(response.body).toContain('UTF-8')
      expect(server.store.size).toBe(0)
    })

    it('refuses a chunked body once it passes the limit, without a Content-Length to go by', async () => {
      server = await startServer({ maxBodyBytes: 64 * 1024 })
      let sent = 0
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent > 50 * 1024 * 1024) return controller.close()
          sent += 64 * 1024
          controller.enqueue(new Uint8Array(64 * 1024).fill(0x20))
        },
      })
      const response = await fetch(`${server.url}/api/activity`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
        duplex: 'half',
      } as RequestInit)
      expect(response.status).toBe(413)
      // The handler stopped reading long before the 50 MB the client was willing to send.
      expect(sent).toBeLessThan(50 * 1024 * 1024)
      expect(server.store.size).toBe(0)
    })

    it('keeps __proto__ keys inside metadata as data, without polluting prototypes', async () => {
      server = await startServer()
      const response = await post('/api/activity', '{"activityType":"x","metadata":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}')
      expect(response.status).toBe(200)
      const [stored] = await all(server.store)
      expect(stored!.metadata!.constructor).toEqual({ prototype: { polluted: true } })
      expect((stored!.metadata as Record<string, unknown>).polluted).toBeUndefined()
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    })

    it('sets receivedAt and the IP itself, whatever the client claims', async () => {
      server = await startServer()
      await post('/api/activity', '{"activityType":"x","receivedAt":"2000-01-01T00:00:00Z","context":{"ip":"6.6.6.6","userAgent":"custom"}}', {
        'x-forwarded-for': '9.9.9.9',
      })
      const [stored] = await all(server.store)
      expect(stored!.receivedAt).not.toBe('2000-01-01T00:00:00.000Z')
      expect(stored!.context).toEqual({ ip: '127.0.0.1', userAgent: 'custom' })
    })

    it('truncates the IP when anonymizeIp is set', async () => {
      server = await startServer({ anonymizeIp: true, trustProxy: true })
      await post('/api/activity', '{"activityType":"x"}', { 'x-forwarded-for': '203.0.113.77, 10.0.0.1' })
      await post('/api/activity', '{"activityType":"y"}', { 'x-forwarded-for': '2001:db8:85a3:8d3:1319:8a2e:370:7348' })
      const rows = await all(server.store)
      expect(rows.map((row) => row.context?.ip).sort()).toEqual(['2001:db8:85a3::', '203.0.113.0'])
    })
  })

  describe('ingest: cross-site requests with the session cookie (CSRF)', () => {
    /** A session-cookie `authenticate`, as an app with a login page has: the browser attaches the cookie by itself. */
    const cookieSession = (request: Request) => {
      const session = /(?:^|;\s*)session=([^;]+)/.exec(request.headers.get('cookie') ?? '')?.[1]
      return session ? { userId: session } : null
    }
    const page = '{"activities":[{"activityType":"page_view","anonymousId":"a1"}]}'
    const victim = { cookie: 'session=victim', 'content-type': 'text/plain;charset=UTF-8' }

    it('refuses a signed-in text/plain body from another site with 403 and stores nothing', async () => {
      server = await startServer({ authenticate: cookieSession })
      // What a hostile page's `fetch(url, { method: 'POST', credentials: 'include', body })` or form sends: no preflight needed.
      const forged = await post('/api/activity', page, { ...victim, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })
      expect(forged.status).toBe(403)
      expect(((await forged.json()) as { error: string }).error).toMatch(/application\/json/)
      const oldBrowser = await post('/api/activity', page, { ...victim, origin: 'https://evil.example' })
      expect(oldBrowser.status).toBe(403)
      expect(await all(server.store)).toHaveLength(0)
    })

    it("takes the signed-in user's own beacons: same origin, a trusted CORS origin, or JSON", async () => {
      server = await startServer({ authenticate: cookieSession, cors: { origin: 'https://app.example', credentials: true } })
      const host = new URL(server.url).host
      const sameOrigin = await post('/api/activity', page, { ...victim, origin: server.url, 'sec-fetch-site': 'same-origin' })
      expect(sameOrigin.status).toBe(200)
      const sameOriginOldBrowser = await post('/api/activity', page, { ...victim, origin: `http://${host}` })
      expect(sameOriginOldBrowser.status).toBe(200)
      const trusted = await post('/api/activity', page, { ...victim, origin: 'https://app.example', 'sec-fetch-site': 'same-site' })
      expect(trusted.status).toBe(200)
      // JSON from another site needs a preflight, which only the CORS origins pass: safe to take as is.
      const json = await post('/api/activity', page, { cookie: 'session=victim', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })
      expect(json.status).toBe(200)
      // A backend's request carries neither Origin nor Sec-Fetch-Site.
      const backend = await post('/api/activity', page, victim)
      expect(backend.status).toBe(200)
      expect((await all(server.store)).map((activity) => activity.userId)).toEqual(['victim', 'victim', 'victim', 'victim', 'victim'])
    })

    it('keeps anonymous beacons from any site working', async () => {
      server = await startServer({ authenticate: cookieSession, cors: true })
      const beacon = await post('/api/activity', page, { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://customer.example', 'sec-fetch-site': 'cross-site' })
      expect(beacon.status).toBe(200)
    })
  })

  describe('ingest: store outcomes', () => {
    function failingStore(write: Store['sink']['write']): Store {
      const store = memoryStore()
      return { ...store, sink: { name: 'flaky', write } }
    }

    it('answers 503 with Retry-After when the store asks for a retry', async () => {
      server = await startServer({ store: failingStore(async () => ({ type: 'retryable', retryInMs: 7_500 })) })
      const response = await post('/api/activity', '{"activityType":"x"}')
      expect(response.status).toBe(503)
      expect(response.headers.get('retry-after')).toBe('8')
    })

    it('answers 503 when the store throws, and reports the error', async () => {
      const errors: unknown[] = []
      server = await startServer({
        store: failingStore(async () => {
          throw new Error('connection refused')
        }),
        onError: (error) => errors.push(error),
      })
      const response = await post('/api/activity', '{"activityType":"x"}')
      expect(response.status).toBe(503)
      expect(errors).toEqual([new Error('connection refused')])
    })

    it('answers with the ids stored when the store refuses some activities', async () => {
      let refusedId = ''
      server = await startServer({
        store: failingStore(async (batch) => {
          refusedId = batch[1]!.id
          return { type: 'success', rejected: [{ id: refusedId, error: 'too big for this store' }] }
        }),
      })
      const response = await post('/api/activity', '[{"activityType":"x"},{"activityType":"y"}]')
      expect(response.status).toBe(200)
      const body = (await response.json()) as { accepted: number; ids: string[]; rejected: unknown[] }
      expect(body.accepted).toBe(1)
      expect(body.ids).not.toContain(refusedId)
      expect(body.rejected).toEqual([{ id: refusedId, error: 'too big for this store' }])
    })

    it('writes a retried batch only once', async () => {
      server = await startServer()
      const id = crypto.randomUUID()
      for (let attempt = 0; attempt < 3; attempt++) {
        expect((await post('/api/activity', JSON.stringify({ id, activityType: 'x' }))).status).toBe(200)
      }
      expect(server.store.size).toBe(1)
    })
  })
})

describe('ingest validation', () => {
  // The route validates with normalizeActivity (and refuses years past 9999 itself): what it takes
  // must be what core's activitySchema takes.
  it('takes only activities that core’s activitySchema accepts, whatever the input', () => {
    const value = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.date({ noInvalidDate: true }).map((date) => date.toISOString()), fc.uuid())
    const key = fc.constantFrom(
      'id', 'activityType', 'action', 'type', 'event', 'timestamp', 'time', 'userId', 'user_id', 'anonymousId', 'sessionId', 'description',
      'endTime', 'durationMs', 'duration_ms', 'timeTaken', 'tokenUsage', 'tokens', 'status', 'error', 'context', 'metadata', 'details',
      'receivedAt', 'cost', 'total', 'input', 'output', 'currency', 'source', 'unpriced', 'model', 'input_tokens',
    )
    const input = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, value, fc.dictionary(key, tie('node'), { maxKeys: 8 }), fc.array(tie('node'), { maxLength: 3 })),
    })).node
    const withType = fc.record({ activityType: fc.string({ minLength: 1 }) }).chain((base) => fc.dictionary(key, input, { maxKeys: 10 }).map((rest) => ({ ...base, ...rest })))
    fc.assert(
      fc.property(fc.oneof(input, withType), (candidate) => {
        const normalized = normalizeActivity(candidate)
        if (!normalized.ok) return
        const { timestamp, endTime, receivedAt } = normalized.activity
        const fourDigitYears = [timestamp, endTime, receivedAt].every((time) => time === undefined || /^\d{4}-/.test(time))
        expect(activitySchema.safeParse(normalized.activity).success).toBe(fourDigitYears)
      }),
      { numRuns: 3000 },
    )
  }, 60_000)

  it.each(TRANSPORTS)('refuses a time past the year 9999 as core’s schema does, through the %s', async (transport) => {
    const store = memoryStore()
    server = await startOn({ store, trustClientUserIds: true }, transport)
    const response = await post('/api/activity', JSON.stringify([{ activityType: 'a' }, { activityType: 'b', endTime: '+010000-01-01T00:00:00.000Z', timestamp: 253402300800000 }]))
    expect(response.status).toBe(400)
    expect((await response.json()).issues).toEqual([
      { path: [1, 'timestamp'], message: 'Invalid ISO datetime' },
      { path: [1, 'endTime'], message: 'Invalid ISO datetime' },
    ])
    expect(await all(store)).toEqual([])
  })
})
