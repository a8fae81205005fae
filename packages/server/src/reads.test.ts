import { parse } from 'csv-parse/sync'
import { type Activity, type ActivityStats } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import { HOSTILE_STRINGS } from '@usertracking/testkit'
import { CSV_COLUMNS } from './csv'
import type { Principal } from './handler'
import { startServer, type TestServer } from '../test/test-server'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** `Authorization: Bearer <userId>`, and `admin` as the admin's token. */
function authenticate(request: Request): Principal | null {
  const token = request.headers.get('authorization')?.replace(/^Bearer /, '')
  if (!token) return null
  return token === 'admin' ? { userId: 'admin', admin: true } : { userId: token }
}

function as(userId: string): { authorization: string } {
  return { authorization: `Bearer ${userId}` }
}

async function seed(rows: Partial<Activity>[]): Promise<void> {
  const activities = rows.map((row, index) => ({
    id: crypto.randomUUID(),
    activityType: 'job_match',
    timestamp: new Date(Date.UTC(2025, 6, 6, 10, index)).toISOString(),
    ...row,
  }))
  await server!.store.sink.write(activities, { signal: new AbortController().signal })
}

describe('authorization', () => {
  it('shows a user only their own rows, whatever userId the query names', async () => {
    server = await startServer({ authenticate })
    await seed([{ userId: 'alice' }, { userId: 'alice' }, { userId: 'bob' }])
    for (const path of ['/api/activities', '/api/activities?userId=bob', '/api/events?user_id=bob']) {
      const { items } = (await (await fetch(`${server.url}${path}`, { headers: as('alice') })).json()) as { items: Activity[] }
      expect(items.map((item) => item.userId), path).toEqual(['alice', 'alice'])
    }
    const stats = (await (await fetch(`${server.url}/api/activities/stats?userId=bob`, { headers: as('alice') })).json()) as ActivityStats
    expect(stats.total).toBe(2)
    const exported = (await (await fetch(`${server.url}/api/activities/export?userId=bob`, { headers: as('alice') })).json()) as Activity[]
    expect(exported.map((item) => item.userId)).toEqual(['alice', 'alice'])
    const admin = (await (await fetch(`${server.url}/api/activities?userId=bob`, { headers: as('admin') })).json()) as { items: Activity[] }
    expect(admin.items.map((item) => item.userId)).toEqual(['bob'])
  })

  it('answers 401 to reads without a principal, and passes through a Response from authenticate', async () => {
    server = await startServer({
      authenticate: (request) =>
        request.headers.get('authorization') === 'Bearer banned' ? new Response('banned', { status: 403 }) : authenticate(request),
    })
    for (const path of ['/api/activities', '/api/activities/stats', '/api/activities/export', '/api/activities/stream']) {
      expect((await fetch(`${server.url}${path}`)).status, path).toBe(401)
    }
    expect((await fetch(`${server.url}/api/activities`, { headers: as('banned') })).status).toBe(403)
  })

  it('writes as the signed-in user, and refuses writing as someone else with 403', async () => {
    server = await startServer({ authenticate })
    const mine = await fetch(`${server.url}/api/activity`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...as('alice') },
      body: '{"activityType":"x"}',
    })
    expect(mine.status).toBe(200)
    const theirs = await fetch(`${server.url}/api/activity`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...as('alice') },
      body: '[{"activityType":"x"},{"activityType":"x","userId":"bob"}]',
    })
    expect(theirs.status).toBe(403)
    const { items } = await server.store.list()
    expect(items.map((item) => item.userId)).toEqual(['alice'])
  })

  it('refuses anonymous ingest with 401 when told to', async () => {
    server = await startServer({ authenticate, allowAnonymousIngest: false })
    const response = await fetch(`${server.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"activityType":"x"}' })
    expect(response.status).toBe(401)
    expect(server.store.size).toBe(0)
  })
})

describe('list and stats', () => {
  it('pages with the cursor, sorts, and filters by query parameters', async () => {
    server = await startServer()
    await seed(Array.from({ length: 25 }, (_, index) => ({ userId: 'u1', tokenUsage: { total: index * 10 }, durationMs: 1000 - index })))
    const seen: Activity[] = []
    let cursor = ''
    do {
      const page = (await (await fetch(`${server.url}/api/activities?sort=tokens&order=asc&limit=10&minTokens=30${cursor}`)).json()) as {
        items: Activity[]
        nextCursor?: string
      }
      seen.push(...page.items)
      cursor = page.nextCursor ? `&cursor=${encodeURIComponent(page.nextCursor)}` : ''
    } while (cursor)
    expect(seen.map((item) => item.tokenUsage!.total)).toEqual(Array.from({ length: 22 }, (_, index) => (index + 3) * 10))
    const total = await (await fetch(`${server.url}/api/activities?includeTotal=true&limit=1&to=2025-07-06T10:05:00Z`)).json()
    expect(total.total).toBe(5)
  })

  it('answers bad query parameters and a forged cursor with 400 and the parameter names', async () => {
    server = await startServer()
    const response = await fetch(`${server.url}/api/activities?limit=0&sort=name&from=yesterday&minTokens=-1&status=meh`)
    expect(response.status).toBe(400)
    const { issues } = (await response.json()) as { issues: { path: string[] }[] }
    expect(issues.map((issue) => issue.path[1]).sort()).toEqual(['from', 'limit', 'minTokens', 'sort', 'status'])
    const forged = await fetch(`${server.url}/api/activities?cursor=${encodeURIComponent("'; DROP TABLE activities; --")}`)
    expect(forged.status).toBe(400)
    const stats = await fetch(`${server.url}/api/activities/stats?interval=1ms`)
    expect(stats.status).toBe(400)
  })

  it('counts per 4-hour bucket and in the recent window', async () => {
    const now = Date.UTC(2025, 6, 6, 12, 0)
    server = await startServer({ now: () => now })
    await seed([
      { timestamp: '2025-07-06T01:00:00.000Z', userId: 'a' },
      { timestamp: '2025-07-06T03:59:59.999Z', userId: 'b' },
      { timestamp: '2025-07-06T04:00:00.000Z', userId: 'a', activityType: 'login' },
      { timestamp: '2025-07-06T11:30:00.000Z', userId: 'c', activityType: 'login' },
    ])
    const stats = await (await fetch(`${server.url}/api/activities/stats?interval=4h&recent=1h`)).json()
    expect(stats.buckets).toEqual([
      { start: '2025-07-06T00:00:00.000Z', count: 2, tokens: 0, cost: 0 },
      { start: '2025-07-06T04:00:00.000Z', count: 1, tokens: 0, cost: 0 },
      { start: '2025-07-06T08:00:00.000Z', count: 1, tokens: 0, cost: 0 },
    ])
    expect(stats.recent).toMatchObject({ from: '2025-07-06T11:00:00.000Z', total: 1, uniqueUsers: 1 })
    expect(stats.byType).toEqual([
      { activityType: 'job_match', count: 2, tokens: 0, cost: 0 },
      { activityType: 'login', count: 2, tokens: 0, cost: 0 },
    ])
  })
})

describe('export', () => {
  it('round-trips CSV through a CSV parser, with formula cells neutralised', async () => {
    server = await startServer()
    const rows: Partial<Activity>[] = HOSTILE_STRINGS.filter((text) => !text.includes('\u0000')).map((text, index) => ({
      userId: `user-${index}`,
      description: text,
      tokenUsage: { input: 1, output: 2, total: 3, model: 'gpt-4o' },
      durationMs: 12.5,
      context: { page: text, ip: '127.0.0.1' },
      metadata: { text, n: index },
    }))
    rows.push({ description: '+1 555 0100', metadata: { '@': '-2' } }, { description: '@SUM(A1:A2)' }, { description: '-10' })
    await seed(rows)
    const response = await fetch(`${server.url}/api/activities/export?format=csv`)
    expect(response.headers.get('content-type')).toContain('text/csv')
    expect(response.headers.get('content-disposition')).toContain('activities.csv')
    const text = await response.text()
    const records = parse(text, { columns: true, relax_column_count: false }) as Record<string, string>[]
    expect(Object.keys(records[0]!)).toEqual([...CSV_COLUMNS])
    const { items } = await server.store.list({ order: 'asc', limit: 1000 })
    expect(records).toHaveLength(items.length)
    const unneutralise = (cell: string) => (/^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell)
    records.forEach((record, index) => {
      const activity = items[index]!
      expect(record.id).toBe(activity.id)
      expect(unneutralise(record.description!)).toBe(activity.description)
      expect(record.description!).not.toMatch(/^[=+\-@]/)
      expect(record.tokensTotal).toBe(activity.tokenUsage ? '3' : '')
      expect(JSON.parse(unneutralise(record.metadata!) || 'null')).toEqual(activity.metadata ?? null)
      expect(unneutralise(record.page!)).toBe(activity.context?.page ?? '')
      expect(record.receivedAt).toBe(activity.receivedAt)
    })
  })

  it('streams a large JSON export page by page', async () => {
    server = await startServer()
    for (let batch = 0; batch < 5; batch++) {
      await seed(Array.from({ length: 1000 }, (_, index) => ({ userId: `u${index % 7}`, timestamp: new Date(Date.UTC(2025, 0, 1) + batch * 1000 + index).toISOString() })))
    }
    const json = (await (await fetch(`${server.url}/api/activities/export?format=json`)).json()) as Activity[]
    expect(json).toHaveLength(5000)
    const times = json.map((row) => Date.parse(row.timestamp))
    expect(times).toEqual([...times].sort((a, b) => a - b))
    const ndjson = await (await fetch(`${server.url}/api/activities/export?format=ndjson&userId=u3&order=desc`)).text()
    const lines = ndjson.trim().split('\n').map((line) => JSON.parse(line) as Activity)
    expect(lines.length).toBe(json.filter((row) => row.userId === 'u3').length)
    expect(lines.every((row) => row.userId === 'u3')).toBe(true)
    const empty = await (await fetch(`${server.url}/api/activities/export?userId=nobody`)).json()
    expect(empty).toEqual([])
  })
})

describe('routing, CORS and metrics', () => {
  it('answers unknown routes with 404 and wrong methods with 405', async () => {
    server = await startServer()
    expect((await fetch(`${server.url}/api/nope`)).status).toBe(404)
    const wrong = await fetch(`${server.url}/api/activity`)
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('POST')
    expect((await fetch(`${server.url}/api/activities`, { method: 'DELETE' })).status).toBe(405)
  })

  it('mounts under another base path', async () => {
    server = await startServer({ basePath: '/track/' })
    expect((await fetch(`${server.url}/track/activities`)).status).toBe(200)
    expect((await fetch(`${server.url}/api/activities`)).status).toBe(404)
  })

  it('answers preflights and adds CORS headers for allowed origins only', async () => {
    server = await startServer({ cors: { origin: ['https://app.example'], credentials: true } })
    const preflight = await fetch(`${server.url}/api/activity`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST')
    const allowed = await fetch(`${server.url}/api/activities`, { headers: { origin: 'https://app.example' } })
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true')
    const other = await fetch(`${server.url}/api/activities`, { headers: { origin: 'https://evil.example' } })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('counts requests, errors, ingested activities and ingest latency in Prometheus text format', async () => {
    server = await startServer()
    const post = (body: string) => fetch(`${server!.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    await post('[{"activityType":"a"},{"activityType":"b"}]')
    await post('{"activityType":"c"}')
    await post('{not json')
    await fetch(`${server.url}/api/activities`)
    await fetch(`${server.url}/nowhere`)
    const response = await fetch(`${server.url}/metrics`)
    expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4')
    const text = await response.text()
    expect(text).toContain('usertracking_http_requests_total{route="/api/activity",method="POST",status="200"} 2')
    expect(text).toContain('usertracking_http_requests_total{route="/api/activity",method="POST",status="400"} 1')
    expect(text).toContain('usertracking_http_requests_total{route="/api/activities",method="GET",status="200"} 1')
    expect(text).toContain('usertracking_http_errors_total{route="unmatched",status="404"} 1')
    expect(text).toContain('usertracking_activities_ingested_total 3')
    expect(text).toContain('usertracking_ingest_duration_seconds_count 2')
    expect(text).toContain('usertracking_ingest_duration_seconds_bucket{le="+Inf"} 2')
    // Every sample line is `name{labels} value`, every family announced by HELP and TYPE.
    for (const line of text.trim().split('\n')) {
      expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+]+|\w+\{le="\+Inf"\} \d+)$/)
    }
  })
})
