import { execFileSync, spawnSync } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { postgresStore } from '@usertracking/postgres'
import { toNodeListener, type ActivityHandler } from '@usertracking/server'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openTestDatabase, uniqueSchema, type TestDatabase } from '../../../packages/postgres/test/database'
import { createEventLog, type EventRow } from './event-log'

const EVENTS_TOKEN = 'events-backend-token-0123456789'
const METRICS_TOKEN = 'metrics-scrape-token-0123456789'
const backend = { authorization: `Bearer ${EVENTS_TOKEN}` }
const scraper = { authorization: `Bearer ${METRICS_TOKEN}` }

/** Prometheus' own linter for the text format, from Debian's `prometheus` package. */
const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0
const inCi = process.env.CI === 'true'
if (!promtool && !inCi) {
  console.warn(`
################################################################################
#  [usertracking] [event-log] promtool is not installed: the /metrics check    #
#  against Prometheus' own linter DID NOT RUN. Install it with                  #
#  apt-get install -y prometheus. With CI=true a missing promtool fails.        #
################################################################################
`)
}

/** The seed's `POST /api/event` body, as its README shows it. */
const SEED_EVENT = {
  user_id: 6,
  event_action_timestamp: '2025-10-10T18:30:00Z',
  action: 'deleted',
  metadata: { ip: '192.168.1.10', device: 'iPhone 14', location: 'Kyiv, Ukraine' },
}

interface Running {
  url: string
  schema: string
  /** Sets the time the event log stamps as "received". */
  receivedAt(iso: string): void
  errors: unknown[]
}

// One database for the file (PGlite takes seconds to start), a schema of its own for each test.
let database: TestDatabase
beforeAll(async () => {
  database = await openTestDatabase()
})
afterAll(() => database?.close())

let running: (Running & { close(): Promise<void> }) | undefined
afterEach(async () => {
  await running?.close()
  running = undefined
})

/** The event log over a fresh table, on the PostgreSQL server at DATABASE_URL or on PGlite, served by node:http. */
async function start(): Promise<Running> {
  const schema = uniqueSchema('event_log')
  const store = postgresStore({ client: database.client, schema })
  await store.migrate()
  let now = Date.parse('2025-10-12T21:27:08.034Z')
  const errors: unknown[] = []
  const handler: ActivityHandler = createEventLog({
    store,
    eventsToken: EVENTS_TOKEN,
    metricsToken: METRICS_TOKEN,
    now: () => now,
    onError: (error) => errors.push(error),
  })
  const server: Server = createServer(toNodeListener(handler))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  running = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    schema,
    receivedAt: (iso) => {
      now = Date.parse(iso)
    },
    errors,
    async close() {
      handler.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await database.exec(`DROP SCHEMA "${schema}" CASCADE`)
    },
  }
  return running
}

function post(app: Running, body: unknown, headers: Record<string, string> = backend): Promise<Response> {
  return fetch(`${app.url}/api/event`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

async function events(app: Running, query: string): Promise<EventRow[]> {
  const response = await fetch(`${app.url}/api/events?${query}`, { headers: backend })
  expect(response.status).toBe(200)
  return (await response.json()) as EventRow[]
}

describe(`story 2's event log on ${process.env.DATABASE_URL ? 'the PostgreSQL server at DATABASE_URL' : 'PGlite'}`, () => {
  it('answers POST /api/event with 201 and keeps both dates: when the user acted and when the record was received', async () => {
    const app = await start()
    app.receivedAt('2025-10-11T09:15:00.000Z')
    const response = await post(app, SEED_EVENT)
    expect(response.status).toBe(201)
    const rows = await database.query(`SELECT user_id, activity_type, "timestamp", received_at, metadata FROM "${app.schema}".user_activities`)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ user_id: '6', activity_type: 'deleted', metadata: SEED_EVENT.metadata })
    expect(new Date(rows[0]!.timestamp as string).toISOString()).toBe('2025-10-10T18:30:00.000Z')
    expect(new Date(rows[0]!.received_at as string).toISOString()).toBe('2025-10-11T09:15:00.000Z')
    expect(app.errors).toEqual([])
  })

  it("answers the seed's GET /api/events with its bare array, user_id the number it was sent as, searched by received time", async () => {
    const app = await start()
    app.receivedAt('2025-10-12T21:27:08.034Z')
    expect((await post(app, { ...SEED_EVENT, action: 'created', event_action_timestamp: '2025-10-12T21:27:08.034Z' })).status).toBe(201)
    // Acted long before the search window, received inside it: found, since the search is on received time.
    app.receivedAt('2025-10-12T21:30:00.000Z')
    const late = { ...SEED_EVENT, event_action_timestamp: '2025-10-01T08:00:00.000Z', metadata: { ip: '192.168.23.10', device: 'iPhone 13', location: 'Lviv, Ukraine' } }
    expect((await post(app, late)).status).toBe(201)
    expect((await post(app, { ...SEED_EVENT, user_id: 7 })).status).toBe(201)
    // Acted inside the window, received after it: not found.
    app.receivedAt('2025-10-14T00:00:00.000Z')
    expect((await post(app, { ...SEED_EVENT, event_action_timestamp: '2025-10-12T10:00:00Z' })).status).toBe(201)

    expect(await events(app, 'user_id=6&from=2025-10-10T15:43:10.380Z&to=2025-10-13T15:43:10.380Z')).toEqual([
      {
        user_id: 6,
        event_action_timestamp: '2025-10-12T21:27:08.034Z',
        action: 'created',
        metadata: { ip: '192.168.1.10', device: 'iPhone 14', location: 'Kyiv, Ukraine' },
      },
      {
        user_id: 6,
        event_action_timestamp: '2025-10-01T08:00:00.000Z',
        action: 'deleted',
        metadata: { ip: '192.168.23.10', device: 'iPhone 13', location: 'Lviv, Ukraine' },
      },
    ])
    expect((await events(app, 'user_id=6&from=2025-10-13T15:43:10.380Z')).map((event) => event.event_action_timestamp)).toEqual(['2025-10-12T10:00:00.000Z'])
    // A user id sent as a string comes back as that string.
    expect((await post(app, { ...SEED_EVENT, user_id: 'u-8' })).status).toBe(201)
    expect((await events(app, 'user_id=u-8')).map((event) => event.user_id)).toEqual(['u-8'])
  })

  it('refuses requests without the service token, invalid events naming the field, and unknown query parameters', async () => {
    const app = await start()
    expect((await post(app, SEED_EVENT, {})).status).toBe(401)
    expect((await fetch(`${app.url}/api/events?user_id=6`)).status).toBe(401)
    expect((await fetch(`${app.url}/api/events?user_id=6`, { headers: { authorization: 'Bearer not-the-events-token-000' } })).status).toBe(401)

    const invalid = await post(app, { ...SEED_EVENT, event_action_timestamp: 'yesterday' })
    expect(invalid.status).toBe(400)
    expect(JSON.stringify(await invalid.json())).toContain('event_action_timestamp')
    const unknown = await fetch(`${app.url}/api/events?user=6`, { headers: backend })
    expect(unknown.status).toBe(400)
    expect(JSON.stringify(await unknown.json())).toContain('user')
    expect(await events(app, 'user_id=6')).toEqual([])
  })

  it('counts events per user every 4 hours on received time, in one call', async () => {
    const app = await start()
    const receive = async (at: string, userIds: number[]) => {
      app.receivedAt(at)
      // One request carries several events, as the seed's backend batches them.
      expect((await post(app, userIds.map((user_id) => ({ ...SEED_EVENT, user_id })))).status).toBe(201)
    }
    await receive('2025-10-12T00:10:00Z', [6, 6, 7])
    await receive('2025-10-12T03:59:59Z', [6])
    await receive('2025-10-12T04:00:00Z', [7, 7])
    await receive('2025-10-12T13:30:00Z', [6])
    const response = await fetch(`${app.url}/api/events/stats?interval=4h&per=user&from=2025-10-12T00:00:00Z&to=2025-10-13T00:00:00Z`, { headers: backend })
    expect(response.status).toBe(200)
    const stats = (await response.json()) as { total: number; buckets: { start: string; key: string; count: number }[] }
    expect(stats.total).toBe(7)
    expect(stats.buckets.map(({ start, key, count }) => ({ start, key, count }))).toEqual([
      { start: '2025-10-12T00:00:00.000Z', key: '6', count: 3 },
      { start: '2025-10-12T00:00:00.000Z', key: '7', count: 1 },
      { start: '2025-10-12T04:00:00.000Z', key: '7', count: 2 },
      { start: '2025-10-12T12:00:00.000Z', key: '6', count: 1 },
    ])
  })

  it("serves /metrics to Prometheus' token under the names the Grafana dashboard reads", async () => {
    const app = await start()
    await post(app, SEED_EVENT)
    await post(app, SEED_EVENT)
    await post(app, SEED_EVENT, {})
    await events(app, 'user_id=6')
    expect((await fetch(`${app.url}/metrics`)).status).toBe(401)
    expect((await fetch(`${app.url}/metrics`, { headers: backend })).status).toBe(401)
    const response = await fetch(`${app.url}/metrics`, { headers: scraper })
    expect(response.status).toBe(200)
    const text = await response.text()
    expect(text).toContain('user_activity_tracking_api_requests_total{route="/api/event",method="POST",status="201"} 2')
    expect(text).toContain('user_activity_tracking_api_requests_total{route="/api/events",method="GET",status="200"} 1')
    expect(text).toContain('user_activity_tracking_api_requests_errors_total{route="/api/event",method="POST",status="401"} 1')
    expect(text).not.toMatch(/^usertracking_/m)
    if (promtool || inCi) {
      expect(promtool, 'promtool must be installed under CI (apt-get install -y prometheus)').toBe(true)
      // promtool exits non-zero and names the line for any format error or lint problem.
      expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })).toBe('')
    }
  })
})
