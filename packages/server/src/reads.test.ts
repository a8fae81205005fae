import { parse } from 'csv-parse/sync'
import type { Activity } from '@usertracking/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { HOSTILE_STRINGS } from '@usertracking/testkit'
import { CSV_COLUMNS } from './csv'
import { ADMIN, startServer, type TestServer } from '../test/test-server'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** An admin's GET. */
function get(path: string): Promise<Response> {
  return fetch(`${server!.url}${path}`, { headers: ADMIN })
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

describe('list and stats', () => {
  it('pages with the cursor, sorts, and filters by query parameters', async () => {
    server = await startServer()
    await seed(Array.from({ length: 25 }, (_, index) => ({ userId: 'u1', tokenUsage: { total: index * 10 }, durationMs: 1000 - index })))
    const seen: Activity[] = []
    let cursor = ''
    do {
      const page = (await (await get(`/api/activities?sort=tokens&order=asc&limit=10&minTokens=30${cursor}`)).json()) as {
        items: Activity[]
        nextCursor?: string
      }
      seen.push(...page.items)
      cursor = page.nextCursor ? `&cursor=${encodeURIComponent(page.nextCursor)}` : ''
    } while (cursor)
    expect(seen.map((item) => item.tokenUsage!.total)).toEqual(Array.from({ length: 22 }, (_, index) => (index + 3) * 10))
    const total = await (await get(`/api/activities?includeTotal=true&limit=1&to=2025-07-06T10:05:00Z`)).json()
    expect(total.total).toBe(5)
  })

  it('answers bad query parameters and a forged cursor with 400 and the parameter names', async () => {
    server = await startServer()
    const response = await get(`/api/activities?limit=0&sort=name&from=yesterday&minTokens=-1&status=meh`)
    expect(response.status).toBe(400)
    const { issues } = (await response.json()) as { issues: { path: string[] }[] }
    expect(issues.map((issue) => issue.path[1]).sort()).toEqual(['from', 'limit', 'minTokens', 'sort', 'status'])
    const forged = await get(`/api/activities?cursor=${encodeURIComponent("'; DROP TABLE activities; --")}`)
    expect(forged.status).toBe(400)
    const stats = await get(`/api/activities/stats?interval=1ms`)
    expect(stats.status).toBe(400)
  })

  it('asks the store once when the recent window is the query itself (its own from is later)', async () => {
    const now = Date.UTC(2025, 6, 6, 12, 0)
    server = await startServer({ now: () => now })
    await seed([
      { timestamp: '2025-07-06T09:00:00.000Z', userId: 'a' },
      { timestamp: '2025-07-06T10:30:00.000Z', userId: 'b' },
      { timestamp: '2025-07-06T11:30:00.000Z', userId: 'c', activityType: 'login' },
    ])
    const calls = vi.spyOn(server.store, 'stats')
    const stats = await (await get('/api/activities/stats?from=2025-07-06T10:00:00Z&interval=1h')).json()
    expect(calls).toHaveBeenCalledTimes(1)
    expect(stats).toMatchObject({ total: 2, uniqueUsers: 2, recent: { from: '2025-07-06T10:00:00.000Z', total: 2, uniqueUsers: 2 } })
    expect(stats.recent.byType).toEqual(stats.byType)
    // A window that starts after the query's from is a second question.
    calls.mockClear()
    const wider = await (await get('/api/activities/stats?from=2025-07-06T08:00:00Z&recent=1h')).json()
    expect(calls).toHaveBeenCalledTimes(2)
    expect(wider).toMatchObject({ total: 3, recent: { from: '2025-07-06T11:00:00.000Z', total: 1 } })
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
    const stats = await (await get(`/api/activities/stats?interval=4h&recent=1h`)).json()
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

describe('page-number pagination', () => {
  it('answers { items, total, page, perPage, pages } for page and per_page, through the store offset', async () => {
    server = await startServer()
    await seed(Array.from({ length: 23 }, (_, index) => ({ userId: `u${index}` })))
    const second = await (await get('/api/activities?page=2&per_page=10&order=asc')).json()
    expect(second).toMatchObject({ total: 23, page: 2, perPage: 10, pages: 3 })
    expect(second.items.map((item: Activity) => item.userId)).toEqual(Array.from({ length: 10 }, (_, index) => `u${index + 10}`))
    const last = await (await get('/api/activities?page=3&perPage=10&order=asc')).json()
    expect(last.items.map((item: Activity) => item.userId)).toEqual(['u20', 'u21', 'u22'])
    expect(last.nextCursor).toBeUndefined()
    const beyond = await (await get('/api/activities?page=9&per_page=10')).json()
    expect(beyond).toEqual({ items: [], total: 23, page: 9, perPage: 10, pages: 3 })
  })

  it('pages by number without page parameters when pagination is page, 50 a page', async () => {
    server = await startServer({ pagination: 'page' })
    await seed(Array.from({ length: 60 }, () => ({})))
    const first = await (await get('/api/activities')).json()
    expect(first).toMatchObject({ total: 60, page: 1, perPage: 50, pages: 2 })
    expect(first.items).toHaveLength(50)
  })

  it('refuses cursors, limits and pages past the offset bound in page mode, naming each', async () => {
    server = await startServer()
    const response = await get('/api/activities?page=0&per_page=5000&cursor=x&limit=3')
    expect(response.status).toBe(400)
    const { issues } = (await response.json()) as { issues: { path: string[] }[] }
    expect(issues.map((issue) => issue.path[1]).sort()).toEqual(['cursor', 'limit', 'page', 'per_page'])
    // An offset of at most 100,000 rows (MAX_LIST_OFFSET): page 2001 of 50 starts at row 100,000.
    expect((await get('/api/activities?page=2002&per_page=50')).status).toBe(400)
    expect((await get('/api/activities?page=2001&per_page=50')).status).toBe(200)
  })
})

describe('visitor, session and received-time filters, and buckets', () => {
  it('filters by anonymousId, sessionId and receivedFrom / receivedTo', async () => {
    server = await startServer()
    await seed([
      { anonymousId: 'v1', sessionId: 's1', receivedAt: '2025-07-07T00:00:00.000Z' },
      { anonymousId: 'v1', sessionId: 's2', receivedAt: '2025-07-08T00:00:00.000Z' },
      { anonymousId: 'v2', sessionId: 's3', receivedAt: '2025-07-09T00:00:00.000Z' },
    ])
    const ids = async (query: string) => ((await (await get(`/api/activities?${query}`)).json()).items as Activity[]).map((item) => item.sessionId).sort()
    expect(await ids('anonymousId=v1')).toEqual(['s1', 's2'])
    expect(await ids('sessionId=s2')).toEqual(['s2'])
    expect(await ids('session_id=s3')).toEqual(['s3'])
    expect(await ids('receivedFrom=2025-07-08T00:00:00Z&receivedTo=2025-07-09T00:00:00Z')).toEqual(['s2'])
    const stats = await (await get('/api/activities/stats?anonymousId=v1')).json()
    expect(stats).toMatchObject({ total: 2, uniqueVisitors: 1, sessions: 2 })
  })

  it('buckets per visitor, page or host without an interval, and on received time', async () => {
    server = await startServer()
    await seed([
      { anonymousId: 'v1', context: { page: '/pricing', host: 'a.example' }, receivedAt: '2025-07-07T01:00:00.000Z' },
      { userId: 'u1', context: { page: '/pricing', host: 'b.example' }, receivedAt: '2025-07-07T05:00:00.000Z' },
      { anonymousId: 'v1', context: { page: '/', host: 'a.example' }, receivedAt: '2025-07-07T05:30:00.000Z' },
    ])
    const buckets = async (query: string) => (await (await get(`/api/activities/stats?${query}`)).json()).buckets as { start?: string; key: string; count: number }[]
    expect((await buckets('per=visitor')).map(({ key, count }) => [key, count])).toEqual([['v1', 2], ['u1', 1]])
    expect((await buckets('per=page')).map(({ key, count }) => [key, count])).toEqual([['/pricing', 2], ['/', 1]])
    expect((await buckets('per=host')).map(({ key, count }) => [key, count])).toEqual([['a.example', 2], ['b.example', 1]])
    expect((await buckets('interval=4h&on=receivedAt')).map(({ start, count }) => [start, count])).toEqual([
      ['2025-07-07T00:00:00.000Z', 1],
      ['2025-07-07T04:00:00.000Z', 2],
    ])
    expect((await get('/api/activities/stats?on=receivedAt')).status).toBe(400)
    expect((await get('/api/activities/stats?per=referrer')).status).toBe(400)
  })

  it('reads from / to, buckets and the recent window on receivedAt when timeAxis says so', async () => {
    const now = Date.UTC(2025, 6, 7, 12)
    server = await startServer({ timeAxis: 'receivedAt', now: () => now })
    await seed([
      // Acted long ago, received in the window: an offline client's backlog.
      { timestamp: '2025-01-01T00:00:00.000Z', receivedAt: '2025-07-07T11:30:00.000Z', userId: 'late' },
      { timestamp: '2025-07-07T09:00:00.000Z', receivedAt: '2025-07-07T09:00:01.000Z', userId: 'early' },
    ])
    const list = await (await get('/api/activities?from=2025-07-07T10:00:00Z&to=2025-07-07T12:00:00Z')).json()
    expect(list.items.map((item: Activity) => item.userId)).toEqual(['late'])
    const stats = await (await get('/api/activities/stats?interval=4h&per=user&recent=1h')).json()
    expect(stats.buckets.map(({ start, key }: { start: string; key: string }) => [start, key])).toEqual([
      ['2025-07-07T08:00:00.000Z', 'early'],
      ['2025-07-07T08:00:00.000Z', 'late'],
    ])
    expect(stats.recent).toMatchObject({ from: '2025-07-07T11:00:00.000Z', total: 1, uniqueUsers: 1 })
    const both = await get('/api/activities?from=2025-07-07T10:00:00Z&receivedFrom=2025-07-07T10:00:00Z')
    expect(both.status).toBe(400)
  })

  it('renames the query parameters an existing front end sends, and names them as sent in issues', async () => {
    server = await startServer({ queryAliases: { user_id: 'anonymousId', per_page: 'perPage' } })
    await seed([{ anonymousId: 'ut_9c1' }, { userId: 'ut_9c1' }])
    const page = await (await get('/api/activities?user_id=ut_9c1&per_page=5')).json()
    expect(page.items.map((item: Activity) => item.anonymousId)).toEqual(['ut_9c1'])
    const bad = (await (await get('/api/activities?user_id=ut_9c1&per_page=0')).json()) as { issues: { path: string[] }[] }
    expect(bad.issues.map((issue) => issue.path)).toEqual([['query', 'per_page']])
  })
})

describe('presenters', () => {
  it('reshape list and stats answers, and may answer with a Response of their own', async () => {
    server = await startServer({
      present: {
        list: (answer, context) => (context.path.endsWith('/events') ? answer.items.map((item) => item.activityType) : answer),
        stats: (answer, context) =>
          new Response(JSON.stringify({ total: answer.total }), { headers: { 'content-type': 'application/json', 'x-principal': context.principal.userId } }),
      },
    })
    await seed([{ activityType: 'a' }, { activityType: 'b' }])
    expect(await (await get('/api/events?order=asc')).json()).toEqual(['a', 'b'])
    expect((await (await get('/api/activities')).json()).items).toHaveLength(2)
    const stats = await get('/api/activities/stats')
    expect(stats.headers.get('x-principal')).toBe('admin')
    expect(await stats.json()).toEqual({ total: 2 })
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
    const response = await get(`/api/activities/export?format=csv`)
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
    const json = (await (await get(`/api/activities/export?format=json`)).json()) as Activity[]
    expect(json).toHaveLength(5000)
    const times = json.map((row) => Date.parse(row.timestamp))
    expect(times).toEqual([...times].sort((a, b) => a - b))
    const ndjson = await (await get(`/api/activities/export?format=ndjson&userId=u3&order=desc`)).text()
    const lines = ndjson.trim().split('\n').map((line) => JSON.parse(line) as Activity)
    expect(lines.length).toBe(json.filter((row) => row.userId === 'u3').length)
    expect(lines.every((row) => row.userId === 'u3')).toBe(true)
    const empty = await (await get(`/api/activities/export?userId=nobody`)).json()
    expect(empty).toEqual([])
  })
})
