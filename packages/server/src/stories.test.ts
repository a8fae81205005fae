/**
 * The apps' own routes and JSON, as their documents describe them, each served by one
 * configuration of the handler. These configurations are the ones docs/routes-and-responses.md
 * shows; keep the two in step.
 */
import { memoryStore, type Activity } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import { bearerToken } from './bearer-token'
import type { Principal } from './auth'
import { userIdAsSent } from './user-id'
import { startServer, type TestServer } from '../test/test-server'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const EVENTS_TOKEN = 'events-backend-token-0123456789'
const METRICS_TOKEN = 'metrics-scrape-token-0123456789'

function postJson(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

describe('story 2: the Go + PostgreSQL event log', () => {
  let now = Date.parse('2025-10-12T21:27:08.034Z')

  async function start() {
    server = await startServer({
      store: memoryStore({ now: () => now }),
      now: () => now,
      // The event log's backend and website sign requests in with a service token.
      authenticate: (request) =>
        request.headers.get('authorization') === `Bearer ${EVENTS_TOKEN}` ? { userId: 'events-backend', admin: true } : null,
      routes: { ingest: false, event: '/event', list: '/events', stats: '/events/stats', export: false, stream: false },
      // "User activity is searched by the date the record was added to the system."
      timeAxis: 'receivedAt',
      present: {
        list: ({ items }) =>
          items.map((activity) => ({
            user_id: userIdAsSent(activity),
            event_action_timestamp: activity.timestamp,
            action: activity.activityType,
            metadata: activity.metadata ?? {},
          })),
      },
      metrics: { prefix: 'user_activity_tracking_api_', authenticate: bearerToken(METRICS_TOKEN) },
    })
  }
  const backend = { authorization: `Bearer ${EVENTS_TOKEN}` }

  it('POST /api/event answers 201; GET /api/events answers the bare array, user_id a number, searched by received time', async () => {
    await start()
    const created = await postJson(
      '/api/event',
      { user_id: 6, event_action_timestamp: '2025-10-12T21:27:08.034Z', action: 'created', metadata: { ip: '192.168.1.10', device: 'iPhone 14', location: 'Kyiv, Ukraine' } },
      backend,
    )
    expect(created.status).toBe(201)
    now += 1000
    // Acted before the search window, recorded inside it: found, since the search is by record time.
    const deleted = await postJson(
      '/api/event',
      { user_id: 6, event_action_timestamp: '2025-10-01T08:00:00.000Z', action: 'deleted', metadata: { ip: '192.168.23.10', device: 'iPhone 13', location: 'Lviv, Ukraine' } },
      backend,
    )
    expect(deleted.status).toBe(201)
    await postJson('/api/event', { user_id: 7, event_action_timestamp: '2025-10-12T21:00:00Z', action: 'created' }, backend)
    const response = await fetch(`${server!.url}/api/events?user_id=6&from=2025-10-10T15:43:10.380Z&to=2025-10-13T15:43:10.380Z&order=asc`, { headers: backend })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual([
      {
        user_id: 6,
        event_action_timestamp: '2025-10-01T08:00:00.000Z',
        action: 'deleted',
        metadata: { ip: '192.168.23.10', device: 'iPhone 13', location: 'Lviv, Ukraine' },
      },
      {
        user_id: 6,
        event_action_timestamp: '2025-10-12T21:27:08.034Z',
        action: 'created',
        metadata: { ip: '192.168.1.10', device: 'iPhone 14', location: 'Kyiv, Ukraine' },
      },
    ])
    const outside = await fetch(`${server!.url}/api/events?user_id=6&from=2025-10-13T00:00:00Z`, { headers: backend })
    expect(await outside.json()).toEqual([])
  })

  it('counts activities per user every 4 hours, and exports the metric names its Grafana dashboard reads', async () => {
    await start()
    await postJson('/api/event', [{ user_id: 6, action: 'created' }, { user_id: 6, action: 'deleted' }, { user_id: 7, action: 'created' }], backend)
    await postJson('/api/event', { user_id: 6, action: 'created' }) // no token: 403
    const stats = await (await fetch(`${server!.url}/api/events/stats?interval=4h&per=user`, { headers: backend })).json()
    expect(stats.buckets).toEqual([
      { start: '2025-10-12T20:00:00.000Z', key: '6', count: 2, tokens: 0, cost: 0 },
      { start: '2025-10-12T20:00:00.000Z', key: '7', count: 1, tokens: 0, cost: 0 },
    ])
    const metrics = await (await fetch(`${server!.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text()
    expect(metrics).toContain('user_activity_tracking_api_requests_total{route="/api/event",method="POST",status="201"} 1')
    expect(metrics).toContain('user_activity_tracking_api_requests_errors_total{route="/api/event",method="POST",status="403"} 1')
  })
})

describe('story 4: the Flask site with the UserTracking library and an admin dashboard', () => {
  /** The admin's session; the tracking script's requests are anonymous. */
  const adminSession = (request: Request): Principal | null =>
    request.headers.get('cookie') === 'session=admin-session' ? { userId: 'admin', admin: true } : null

  /** One row as the site's `UserActivity` model serialised it. */
  const toUserActivity = (activity: Activity) => ({
    id: activity.id,
    user_identifier: activity.anonymousId ?? activity.userId ?? null,
    action_type: activity.activityType,
    page: activity.context?.page ?? '',
    element_id: activity.context?.element ?? null,
    user_agent: activity.context?.userAgent ?? null,
    ip_address: activity.context?.ip ?? null,
    timestamp: activity.timestamp,
    additional_data: activity.metadata ? JSON.stringify(activity.metadata) : null,
  })

  async function start() {
    server = await startServer({
      authenticate: adminSession,
      routes: { ingest: '/track', event: false, list: '/admin/activities', stats: '/admin/activity-stats', export: false, stream: false },
      pagination: 'page',
      // The admin page's `user_id` filter is the anonymous "user identifier".
      queryAliases: { user_id: 'anonymousId' },
      present: {
        list: (answer) => ({ activities: answer.items.map(toUserActivity), total: answer.total, page: answer.page, per_page: answer.perPage, pages: answer.pages }),
        stats: (stats) => ({
          action_stats: Object.fromEntries(stats.byType.map((type) => [type.activityType, type.count])),
          unique_users: stats.uniqueVisitors,
          total_activities: stats.total,
          recent_activities: stats.recent.total,
        }),
      },
    })
  }
  const admin = { cookie: 'session=admin-session' }

  async function track(count: number, type: string, visitor: string): Promise<void> {
    const batch = Array.from({ length: count }, () => ({ action_type: type, user_identifier: visitor, element_id: `${type}-el`, context: { page: '/' }, additional_data: '{"element_text": "Submit Form"}' }))
    expect((await postJson('/api/track', batch, { 'user-agent': 'Mozilla/5.0 (test)' })).status).toBe(200)
  }

  it('GET /api/admin/activities answers { activities, total, page, per_page, pages }, filtered by action_type and user_id', async () => {
    await start()
    await track(15, 'page_visit', 'ut_a')
    await track(5, 'button_click', 'ut_b')
    expect((await fetch(`${server!.url}/api/admin/activities`)).status).toBe(401)
    const response = await fetch(`${server!.url}/api/admin/activities?page=1&per_page=20`, { headers: admin })
    const body = await response.json()
    expect(Object.keys(body)).toEqual(['activities', 'total', 'page', 'per_page', 'pages'])
    expect(body).toMatchObject({ total: 20, page: 1, per_page: 20, pages: 1 })
    expect(body.activities[0]).toEqual({
      id: expect.any(String),
      user_identifier: expect.stringMatching(/^ut_[ab]$/),
      action_type: expect.stringMatching(/^(page_visit|button_click)$/),
      page: '/',
      element_id: expect.stringMatching(/-el$/),
      user_agent: 'Mozilla/5.0 (test)',
      ip_address: '127.0.0.1',
      timestamp: expect.any(String),
      additional_data: '{"element_text":"Submit Form"}',
    })
    const clicks = await (await fetch(`${server!.url}/api/admin/activities?action_type=button_click&page=2&per_page=2`, { headers: admin })).json()
    expect(clicks).toMatchObject({ total: 5, page: 2, per_page: 2, pages: 3 })
    expect(clicks.activities.map((row: { action_type: string }) => row.action_type)).toEqual(['button_click', 'button_click'])
    const visitor = await (await fetch(`${server!.url}/api/admin/activities?user_id=ut_b`, { headers: admin })).json()
    expect(visitor).toMatchObject({ total: 5, page: 1, per_page: 50, pages: 1 })
  })

  it('GET /api/admin/activity-stats answers { action_stats, unique_users, total_activities, recent_activities }', async () => {
    await start()
    await track(45, 'page_visit', 'ut_a')
    await track(23, 'button_click', 'ut_b')
    await track(12, 'form_submit', 'ut_c')
    const stats = await (await fetch(`${server!.url}/api/admin/activity-stats`, { headers: admin })).json()
    expect(stats).toEqual({
      action_stats: { page_visit: 45, button_click: 23, form_submit: 12 },
      unique_users: 3,
      total_activities: 80,
      recent_activities: 80,
    })
  })
})

describe('story 5: the LLM gateway reading its activity log', () => {
  it('serves /api/user/activity/log and /stats to the signed-in user, with their rows only', async () => {
    server = await startServer({
      routes: { ingest: false, event: false, list: '/user/activity/log', stats: '/user/activity/stats', export: false, stream: false },
      present: {
        list: ({ items, nextCursor }) => ({
          items: items.map((activity) => ({
            // This app's user ids are integers (users.id SERIAL).
            user_id: Number(activity.userId),
            action: activity.activityType,
            details: { ...activity.metadata, model: activity.tokenUsage?.model, tokens_used: activity.tokenUsage?.total, session_id: activity.sessionId },
            created_at: activity.timestamp,
          })),
          nextCursor,
        }),
      },
    })
    // The gateway's tracker writes straight into the store.
    await server.store.sink.write(
      [
        { id: crypto.randomUUID(), userId: '21', activityType: 'chat_completion', timestamp: '2025-01-09T12:34:56.000Z', sessionId: '42', tokenUsage: { total: 150, model: 'openai/gpt-4' }, metadata: { privy_user_id: 'did:privy:cmgg27la00077ie0cyazmvlsa' } },
        { id: crypto.randomUUID(), userId: '22', activityType: 'user_login', timestamp: '2025-01-09T12:00:00.000Z' },
      ],
      { signal: new AbortController().signal },
    )
    const log = await (await fetch(`${server.url}/api/user/activity/log`, { headers: { authorization: 'Bearer 21' } })).json()
    expect(log).toEqual({
      items: [
        {
          user_id: 21,
          action: 'chat_completion',
          details: { model: 'openai/gpt-4', tokens_used: 150, session_id: '42', privy_user_id: 'did:privy:cmgg27la00077ie0cyazmvlsa' },
          created_at: '2025-01-09T12:34:56.000Z',
        },
      ],
    })
    const stats = await (await fetch(`${server.url}/api/user/activity/stats`, { headers: { authorization: 'Bearer 21' } })).json()
    expect(stats).toMatchObject({ total: 1, tokens: { total: 150 }, byType: [{ activityType: 'chat_completion', count: 1 }] })
  })
})

describe('stories 3 and 4: POST /api/track from a script tag', () => {
  it('takes the seed payload anonymously at /api/track', async () => {
    server = await startServer({ routes: { ingest: '/track' }, cors: true })
    const response = await fetch(`${server.url}/api/track`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://customer.example' },
      body: '{"action_type":"button_click","page":"/","element_id":"submit-btn","additional_data":"{\\"element_text\\": \\"Submit Form\\"}"}',
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    const [stored] = (await server.store.list()).items
    expect(stored).toMatchObject({ activityType: 'button_click', context: { element: 'submit-btn', page: '/' }, metadata: { element_text: 'Submit Form' } })
  })
})
