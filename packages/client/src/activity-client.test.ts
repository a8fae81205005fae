import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Activity, ActivityInput } from '@usertracking/core'
import { EventSource } from 'eventsource'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { eventually, startActivityServer, stores, type ActivityServer, type StoreUnderTest } from '../test/activity-server'
import { createActivityClient, type ActivityClientOptions } from './activity-client'
import { ActivityClientError } from './errors'
import type { LiveState } from './live'

const day = (n: number, hour = 10) => `2025-07-${String(n).padStart(2, '0')}T${String(hour).padStart(2, '0')}:00:00.000Z`

/** Story 1's activities: two users, resume generations and job matches with tokens and durations. */
const seed: ActivityInput[] = [
  { userId: 'ana', activityType: 'resume_generation', timestamp: day(1), tokenUsage: 1420, timeTaken: 3.2, metadata: { jobTitle: 'Data Engineer' } },
  { userId: 'ana', activityType: 'job_match', timestamp: day(2), tokenUsage: 300, timeTaken: 1.1 },
  { userId: 'ana', activityType: 'resume_generation', timestamp: day(3), tokenUsage: 2200, timeTaken: 5 },
  { userId: 'ana', activityType: 'job_match', timestamp: day(4), tokenUsage: 90, timeTaken: 0.4 },
  { userId: 'ana', activityType: 'resume_generation', timestamp: day(5), tokenUsage: 1800, timeTaken: 4.4 },
  { userId: 'ben', activityType: 'resume_generation', timestamp: day(2, 12), tokenUsage: 999, timeTaken: 2 },
  { userId: 'ben', activityType: 'job_match', timestamp: day(6), tokenUsage: 50, timeTaken: 0.2 },
]

const as = (user: string, options: ActivityClientOptions = {}) =>
  createActivityClient({ baseUrl: server.baseUrl, headers: { authorization: `Bearer ${user}` }, EventSource, ...options })

let opened: StoreUnderTest
let server: ActivityServer

describe.each(stores)('the client against the server handler over the $name', ({ open }) => {
  beforeAll(async () => {
    opened = await open()
    server = await startActivityServer(opened.store)
    await server.ingest(seed)
  })
  afterAll(async () => {
    await server.close()
    await opened.close()
  })

  it('walks every page with the cursor, newest first, and shows a user only their own rows', async () => {
    const client = as('ana')
    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = await client.list({ limit: 2, cursor, includeTotal: true })
      expect(page.total).toBe(5)
      seen.push(...page.items.map((activity) => activity.timestamp))
      cursor = page.nextCursor
      pages++
    } while (cursor)
    expect(pages).toBe(3)
    expect(seen).toEqual([day(5), day(4), day(3), day(2), day(1)])
    // Asking for another user's rows still answers with one's own.
    const forged = await client.list({ userId: 'ben' })
    expect(forged.items.map((activity) => activity.userId)).toEqual(['ana', 'ana', 'ana', 'ana', 'ana'])
  })

  it('sends the filter and the order the server understands', async () => {
    const page = await as('admin').list({
      activityType: ['resume_generation'],
      minTokens: 1000,
      from: new Date(day(1)),
      to: day(5),
      sort: 'tokens',
      order: 'asc',
    })
    expect(page.items.map((activity) => [activity.userId, activity.tokenUsage?.total])).toEqual([
      ['ana', 1420],
      ['ana', 2200],
    ])
    const byDuration = await as('admin').list({ sort: 'durationMs', order: 'desc', limit: 2 })
    expect(byDuration.items.map((activity) => activity.durationMs)).toEqual([5000, 4400])
  })

  it('pages by page number, as an admin table with page numbers does', async () => {
    const client = as('ana')
    expect(await client.list({ page: 2, perPage: 2 })).toMatchObject({ total: 5, page: 2, perPage: 2, pages: 3 })
    const last = await client.list({ page: 3, perPage: 2, sort: 'tokens', order: 'asc' })
    expect(last.items.map((activity) => activity.tokenUsage?.total)).toEqual([2200])
    const error = await client.list({ page: 2, cursor: 'x' }).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ status: 400, issues: [{ path: ['query', 'cursor'] }] })
  })

  it('narrows by visitor, session and received time, and buckets by any key on either time axis', async () => {
    const admin = as('admin')
    const [stored] = await server.ingest([{ anonymousId: 'visitor-9', sessionId: 'session-9', activityType: 'page_visit', timestamp: day(1), context: { page: '/pricing' } }])
    const received = (await admin.list({ anonymousId: 'visitor-9' })).items
    expect(received.map((activity) => activity.id)).toEqual([stored])
    expect((await admin.list({ sessionId: 'session-9', receivedFrom: new Date(Date.parse(received[0]!.receivedAt!)) })).items).toHaveLength(1)
    expect((await admin.list({ sessionId: 'session-9', receivedTo: received[0]!.receivedAt })).items).toHaveLength(0)
    const byPage = await admin.stats({ per: 'page' })
    expect(byPage.buckets).toEqual([{ key: '/pricing', count: 1, tokens: 0, cost: 0 }])
    const byVisitor = await admin.stats({ per: 'visitor', on: 'receivedAt', intervalMs: 86_400_000, activityType: 'page_visit' })
    expect(byVisitor.buckets).toMatchObject([{ key: 'visitor-9', count: 1, start: `${received[0]!.receivedAt!.slice(0, 10)}T00:00:00.000Z` }])
    expect(byVisitor.uniqueVisitors).toBe(1)
  })

  it('reads stats with buckets and the recent window', async () => {
    const stats = await as('ana').stats({ intervalMs: 86_400_000, recentMs: 3_600_000 })
    expect(stats.total).toBe(5)
    expect(stats.tokens.total).toBe(1420 + 300 + 2200 + 90 + 1800)
    expect(stats.byType.map((entry) => [entry.activityType, entry.count])).toEqual([
      ['resume_generation', 3],
      ['job_match', 2],
    ])
    expect(stats.buckets?.map((bucket) => [bucket.start, bucket.count])).toEqual([1, 2, 3, 4, 5].map((n) => [day(n, 0), 1]))
    // The seed is from 2025: nothing in the last hour.
    expect(stats.recent?.total).toBe(0)
  })

  it('fails with the server’s issues, naming the parameter', async () => {
    const error = await as('ana')
      .list({ from: 'last tuesday' })
      .catch((caught: unknown) => caught)
    expect(ActivityClientError.isInstance(error)).toBe(true)
    expect(error).toMatchObject({ status: 400, issues: [{ path: ['query', 'from'] }] })
    expect((error as Error).message).toMatch(/^\[usertracking\] \[client\] GET .*\/api\/activities\?from=last\+tuesday answered 400/)
    const signedOut = await createActivityClient({ baseUrl: server.baseUrl })
      .stats()
      .catch((caught: unknown) => caught)
    expect(signedOut).toMatchObject({ status: 401 })
  })

  it('exports the filtered rows as a stream, and names the URL a download link would use', async () => {
    const client = as('ana')
    const url = client.exportUrl({ activityType: 'job_match', format: 'csv' })
    expect(url).toBe(`${server.baseUrl}/activities/export?activityType=job_match&format=csv`)
    const file = await client.export({ activityType: 'job_match', format: 'csv' })
    expect(file.filename).toBe('activities.csv')
    expect(file.contentType).toMatch(/^text\/csv/)
    const lines = (await new Response(file.body).text()).trim().split('\r\n')
    expect(lines[0]).toMatch(/^id,timestamp,activityType,userId/)
    expect(lines.slice(1).map((line) => line.split(',')[1])).toEqual([day(2), day(4)])
    const json = await client.export({ format: 'json', sort: 'tokens', order: 'desc' })
    const rows = (await new Response(json.body).json()) as Activity[]
    expect(rows.map((activity) => activity.tokenUsage?.total)).toEqual([2200, 1800, 1420, 300, 90])
  })

  it('delivers new activities live, only the user’s own, and reports the connection state', async () => {
    const client = as('ana')
    const states: LiveState['status'][] = []
    const received: Activity[] = []
    const live = client.live({ activityType: 'resume_generation' }, (activity) => received.push(activity), {
      onState: (state) => states.push(state.status),
    })
    expect(live.state).toMatchObject({ status: 'connecting', connected: false })
    await eventually(() => expect(live.state.connected).toBe(true))
    await server.ingest([
      { userId: 'ben', activityType: 'resume_generation', tokenUsage: 10 },
      { userId: 'ana', activityType: 'job_match', tokenUsage: 20 },
      { userId: 'ana', activityType: 'resume_generation', tokenUsage: 30, description: 'Tailored resume for Amazon job' },
    ])
    await eventually(() => expect(received.map((activity) => activity.description)).toEqual(['Tailored resume for Amazon job']))
    live.close()
    expect(live.state.status).toBe('closed')
    expect(states).toEqual(['open'])
  })
})

describe('live reconnection', () => {
  beforeAll(async () => {
    opened = await stores[0]!.open()
    server = await startActivityServer(opened.store)
  })
  afterAll(async () => {
    await server.close()
    await opened.close()
  })
  afterEach(() => {
    server.streamRequests.length = 0
  })

  it('resumes after a dropped connection with Last-Event-ID, missing nothing and repeating nothing', async () => {
    const client = as('ana', { live: { reconnectBaseMs: 10 } })
    const received: string[] = []
    const states: LiveState['status'][] = []
    const live = client.live({}, (activity) => received.push(activity.description!), { onState: (state) => states.push(state.status) })
    await eventually(() => expect(live.state.connected).toBe(true))
    await server.ingest([{ userId: 'ana', activityType: 'a', description: 'before' }])
    await eventually(() => expect(received).toEqual(['before']))

    server.dropConnections()
    await eventually(() => expect(live.state.connected).toBe(false))
    await server.ingest([{ userId: 'ana', activityType: 'a', description: 'while away' }])
    await eventually(() => expect(received).toEqual(['before', 'while away']))
    await server.ingest([{ userId: 'ana', activityType: 'a', description: 'after' }])
    await eventually(() => expect(received).toEqual(['before', 'while away', 'after']))

    expect(states).toEqual(['open', 'reconnecting', 'open'])
    expect(server.streamRequests).toHaveLength(2)
    expect(server.streamRequests[0]!.lastEventId).toBeUndefined()
    expect(server.streamRequests[1]!.lastEventId).toMatch(/^[0-9a-z]+-1$/)
    live.close()
  })

  it('reconnects by itself after the server refused the stream (503), resuming from the query', async () => {
    const client = as('ana', { live: { reconnectBaseMs: 10, reconnectMaxMs: 20 } })
    const received: string[] = []
    const states: LiveState['status'][] = []
    const live = client.live({ activityType: 'deploy' }, (activity) => received.push(activity.description!), { onState: (state) => states.push(state.status) })
    await eventually(() => expect(live.state.connected).toBe(true))
    await server.ingest([{ userId: 'ana', activityType: 'deploy', description: 'one' }])
    await eventually(() => expect(received).toEqual(['one']))
    server.refuseStreams(2)
    server.dropConnections()
    await server.ingest([{ userId: 'ana', activityType: 'deploy', description: 'two' }])
    await eventually(() => expect(received).toEqual(['one', 'two']))
    expect(states.at(-1)).toBe('open')
    expect(states).toContain('reconnecting')
    // The EventSource's own retry, then two of ours after each 503, the last one answered.
    expect(server.streamRequests.length).toBe(4)
    expect(server.streamRequests.slice(1).map((request) => request.lastEventId)).toEqual(Array(3).fill(server.streamRequests[1]!.lastEventId))
    expect(server.streamRequests[1]!.lastEventId).toMatch(/^[0-9a-z]+-\d+$/)
    live.close()
  })

  it('tells the page to reload when the server cannot replay what was missed (it restarted)', async () => {
    const client = as('ana', { live: { reconnectBaseMs: 10 } })
    const received: string[] = []
    let resets = 0
    const live = client.live({ activityType: 'restart' }, (activity) => received.push(activity.description!), { onReset: () => resets++ })
    await eventually(() => expect(live.state.connected).toBe(true))
    await server.ingest([{ userId: 'ana', activityType: 'restart', description: 'before' }])
    await eventually(() => expect(received).toEqual(['before']))
    server.restart()
    await server.ingest([{ userId: 'ana', activityType: 'restart', description: 'during' }])
    await eventually(() => expect(resets).toBe(1))
    expect(live.state.connected).toBe(true)
    await server.ingest([{ userId: 'ana', activityType: 'restart', description: 'after' }])
    await eventually(() => expect(received).toEqual(['before', 'after']))
    live.close()
  })

  it('shares one connection between subscriptions to the same filter', async () => {
    const client = as('ana')
    const first: string[] = []
    const second: string[] = []
    const a = client.live({ activityType: 'shared' }, (activity) => first.push(activity.id))
    const b = client.live({ activityType: 'shared' }, (activity) => second.push(activity.id))
    await eventually(() => expect(b.state.connected).toBe(true))
    const ids = await server.ingest([{ userId: 'ana', activityType: 'shared' }])
    await eventually(() => expect(second).toEqual(ids))
    expect(first).toEqual(ids)
    expect(server.streamRequests).toHaveLength(1)
    a.close()
    const more = await server.ingest([{ userId: 'ana', activityType: 'shared' }])
    await eventually(() => expect(second).toEqual([...ids, ...more]))
    expect(first).toEqual(ids)
    b.close()
  })

  it('stops for good when the server refuses the stream, saying why', async () => {
    const live = createActivityClient({ baseUrl: server.baseUrl, EventSource }).live({}, () => {})
    await eventually(() => expect(live.state.status).toBe('closed'))
    expect(live.state.error).toMatchObject({ status: 401 })
    expect(server.streamRequests).toHaveLength(1)
  })

  it('keeps delivering to the others when one callback throws, and reports the error', async () => {
    const errors: unknown[] = []
    const client = as('ana', { onError: (error) => errors.push(error) })
    const received: string[] = []
    const failing = client.live({ activityType: 'throws' }, () => {
      throw new Error('a bug in the app')
    })
    const working = client.live({ activityType: 'throws' }, (activity) => received.push(activity.id))
    await eventually(() => expect(working.state.connected).toBe(true))
    const ids = await server.ingest([{ userId: 'ana', activityType: 'throws' }])
    await eventually(() => expect(received).toEqual(ids))
    expect(errors).toEqual([new Error('a bug in the app')])
    failing.close()
    working.close()
  })
})

describe('timeouts', () => {
  it('gives up on a server that never answers after timeoutMs, with status 0', async () => {
    const hanging = createServer(() => {})
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve))
    try {
      const client = createActivityClient({ baseUrl: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/api`, timeoutMs: 50 })
      const error = await client.list().catch((caught: unknown) => caught)
      expect(error).toMatchObject({ status: 0, message: expect.stringContaining('took longer than 50 ms') })
    } finally {
      hanging.closeAllConnections()
      await new Promise((resolve) => hanging.close(resolve))
    }
  })
})
