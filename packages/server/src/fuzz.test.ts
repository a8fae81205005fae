/**
 * Property test of the ingest, read and personal-data routes over real node:http and the memory store: whatever
 * a client sends, the answer is not a 5xx (other than the documented 503 of an unavailable store),
 * a refused ingest request stores nothing, and the server still answers afterwards.
 *
 * Seeded and bounded: set FUZZ_SEED to replay a run, FUZZ_RUNS to run longer.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN, as, startServer, TRANSPORTS, type TestServer } from '../test/test-server'

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const numRuns = Number(process.env.FUZZ_RUNS ?? 300)
console.info(`[usertracking] [server] fuzz seed ${seed} (${numRuns} runs); replay with FUZZ_SEED=${seed}`)

let server: TestServer
/** The same handler options through each transport, for the differential property. */
let twins: TestServer[]
beforeAll(async () => {
  server = await startServer({ rateLimit: { burst: 50, requestsPerSecond: 1000 }, maxBodyBytes: 64 * 1024, cors: { origin: ['https://app.example'] } })
  twins = await Promise.all(TRANSPORTS.map((transport) => startServer({ maxBodyBytes: 64 * 1024, maxBatchSize: 3, cors: { origin: ['https://app.example'] } }, transport)))
})
afterAll(async () => {
  await server.close()
  await Promise.all(twins.map((twin) => twin.close()))
})

/** What a client sees of an answer, ids (random per server) reduced to their count. */
async function seen(response: Response) {
  const headers = Object.fromEntries(
    ['content-type', 'cache-control', 'retry-after', 'allow', 'vary', 'access-control-allow-origin', 'access-control-expose-headers'].map((name) => [name, response.headers.get(name)]),
  )
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // Not JSON: compared as text.
  }
  if (typeof body === 'object' && body !== null && Array.isArray((body as { ids?: unknown }).ids)) {
    body = { ...body, ids: (body as { ids: unknown[] }).ids.length }
  }
  return { status: response.status, headers, body }
}

const time = fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((date) => date.toISOString())

/** Each parameter with values a well-meaning client would send; hostile values are mixed in below. */
const PLAUSIBLE: Record<string, fc.Arbitrary<string>> = {
  userId: fc.constantFrom('alice', 'bob', '6'),
  user_id: fc.constantFrom('alice', '6'),
  anonymousId: fc.constantFrom('v1', 'v2'),
  sessionId: fc.constantFrom('s1', 's2'),
  activityType: fc.constantFrom('page_view', 'click'),
  action: fc.constantFrom('deleted', 'created'),
  from: time,
  to: time,
  receivedFrom: time,
  receivedTo: time,
  minTokens: fc.nat(1000).map(String),
  maxTokens: fc.nat(1000).map(String),
  status: fc.constantFrom('success', 'error'),
  sort: fc.constantFrom('timestamp', 'durationMs', 'tokens'),
  order: fc.constantFrom('asc', 'desc'),
  limit: fc.integer({ min: 1, max: 1000 }).map(String),
  cursor: fc.constantFrom('m1~t~d~1751796000000~01978000-0000-7000-8000-000000000000', 'm1~k~a~~x'),
  includeTotal: fc.constantFrom('true', 'false'),
  page: fc.integer({ min: 1, max: 5 }).map(String),
  per_page: fc.integer({ min: 1, max: 100 }).map(String),
  interval: fc.constantFrom('1m', '4h', '1d', '1w'),
  per: fc.constantFrom('user', 'visitor', 'activityType', 'page', 'host'),
  on: fc.constantFrom('timestamp', 'receivedAt'),
  recent: fc.constantFrom('1h', '24h'),
  format: fc.constantFrom('csv', 'json', 'ndjson'),
  lastEventId: fc.constantFrom('abc-1'),
}
const PARAMETERS = [...Object.keys(PLAUSIBLE), '__proto__', 'constructor', 'x']

/** Values that poke at parsers: numbers at the edges, dates out of range, injection-shaped text. */
const hostileValue = fc.oneof(
  fc.constantFrom('', '0', '-1', '1e308', 'NaN', 'Infinity', '-271821-04-20', '-8640000000000000', '275760-09-13', '9999-12-31T23:59:59.999Z',
    "' OR 1=1 --", 'm1~t~d~99999999999999999999999~x', '%00'),
  fc.string({ maxLength: 40 }),
  fc.integer().map(String),
)

const pair = fc.constantFrom(...PARAMETERS).chain((name) => {
  const plausible = Object.hasOwn(PLAUSIBLE, name) ? PLAUSIBLE[name]! : undefined
  return fc.tuple(fc.constant(name), plausible ? fc.oneof({ weight: 4, arbitrary: plausible }, { weight: 1, arbitrary: hostileValue }) : hostileValue)
})
const query = fc.array(pair, { maxLength: 4 }).map((pairs) => new URLSearchParams(pairs).toString())

const json = fc.jsonValue({ maxDepth: 4 })

/** Activity-like objects with real field names, and anything else. */
const activityish = fc.record(
  {
    activityType: fc.oneof(fc.string({ maxLength: 30 }), json),
    action: fc.string({ maxLength: 10 }),
    userId: fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), json),
    user_id: fc.oneof(fc.integer(), fc.string({ maxLength: 5 })),
    anonymousId: fc.string({ maxLength: 10 }),
    id: fc.oneof(fc.uuid({ version: 7 }), fc.string({ maxLength: 10 })),
    timestamp: fc.oneof(fc.date({ noInvalidDate: true }).map((date) => date.toISOString()), fc.string({ maxLength: 20 }), fc.integer()),
    durationMs: fc.oneof(fc.double(), fc.integer()),
    tokenUsage: fc.oneof(fc.integer(), json),
    metadata: json,
    context: json,
  },
  { requiredKeys: [] },
)

const body = fc.oneof(
  activityish.map((value) => JSON.stringify(value)),
  fc.array(activityish, { maxLength: 5 }).map((value) => JSON.stringify(value)),
  fc.array(activityish, { maxLength: 5 }).map((activities) => JSON.stringify({ activities })),
  json.map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 200 }),
)

const principal = fc.constantFrom<Record<string, string>>(ADMIN, ADMIN, as('alice'), {}, { authorization: 'Bearer ' })

const ingest = fc.record({
  path: fc.constantFrom('/api/activity', '/api/event', '/api/identify'),
  body,
  type: fc.constantFrom('application/json', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'application/cloudevents+json'),
  headers: principal,
})

const read = fc.record({
  path: fc.constantFrom('/api/activities', '/api/events', '/api/activities/stats', '/api/activities/export', '/api/personal-data', '/api/nowhere'),
  query,
  method: fc.constantFrom('GET', 'GET', 'GET', 'GET', 'POST', 'OPTIONS', 'DELETE'),
  headers: principal,
})

describe('fuzzing the routes', () => {
  it('answers every request without a 5xx, and stores nothing for a refused ingest', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(ingest.map((request) => ({ kind: 'ingest' as const, ...request })), read.map((request) => ({ kind: 'read' as const, ...request }))), async (request) => {
        const before = (server.store as { size: number }).size
        let response: Response
        if (request.kind === 'ingest') {
          response = await fetch(`${server.url}${request.path}`, {
            method: 'POST',
            headers: { 'content-type': request.type, origin: 'https://app.example', ...request.headers },
            body: request.body,
          })
        } else {
          response = await fetch(`${server.url}${request.path}?${request.query}`, { method: request.method, headers: request.headers })
        }
        const text = await response.text()
        expect(response.status < 500 || response.status === 503, `${response.status} ${text}`).toBe(true)
        if (request.kind === 'ingest' && response.status >= 300) expect((server.store as { size: number }).size).toBe(before)
        if (response.status >= 400 && response.headers.get('content-type')?.startsWith('application/json')) {
          expect(JSON.parse(text)).toMatchObject({ error: expect.stringContaining('[usertracking] [server]') })
        }
      }),
      { seed, numRuns, endOnFailure: true },
    )
    // And the server still answers.
    const after = await fetch(`${server.url}/api/activities?limit=1`, { headers: ADMIN })
    expect(after.status).toBe(200)
  }, 120_000)

  it('answers every ingest request through the node fast path exactly as through the web path', async () => {
    await fc.assert(
      fc.asyncProperty(ingest, fc.constantFrom('', '/', '?x=1'), async (request, suffix) => {
        const answers = await Promise.all(
          twins.map(async (twin) =>
            seen(
              await fetch(`${twin.url}${request.path}${suffix}`, {
                method: 'POST',
                headers: { 'content-type': request.type, origin: 'https://app.example', ...request.headers },
                body: request.body,
              }),
            ),
          ),
        )
        expect(answers[0]).toEqual(answers[1])
      }),
      { seed, numRuns: Math.ceil(numRuns / 2), endOnFailure: true },
    )
    expect(twins[0]!.store.size).toBe(twins[1]!.store.size)
  }, 120_000)
})
