import { PGlite } from '@electric-sql/pglite'
import { memoryStore, type Activity, type Store } from '@usertracking/core'
import { postgresStore } from '@usertracking/postgres'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { ADMIN, as, startServer, type TestServer } from '../test/test-server'
import { closeStores, storeKinds, type TestStore } from '../test/stores'

// The first test over PGlite starts it, which takes seconds on a loaded machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

let server: TestServer | undefined
let opened: TestStore | undefined
afterAll(closeStores)
afterEach(async () => {
  await server?.close()
  await opened?.close()
  server = undefined
  opened = undefined
})

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

async function list(headers: Record<string, string>, query = ''): Promise<Activity[]> {
  const response = await fetch(`${server!.url}/api/activities?limit=100${query}`, { headers })
  expect(response.status).toBe(200)
  return ((await response.json()) as { items: Activity[] }).items
}

describe.each(storeKinds())('POST /identify over the $name', (kind) => {
  it('links the signed-in user to the anonymous id they had, before and after signing in', async () => {
    opened = await kind.open()
    server = await startServer({ store: opened.store })
    // Browsing anonymously, then signing in.
    expect((await post('/api/activity', [{ activityType: 'page_view', anonymousId: 'anon-1' }, { activityType: 'click', anonymousId: 'anon-1' }])).status).toBe(200)
    const linked = await post('/api/identify', { anonymousId: 'anon-1' }, as('alice'))
    expect(linked.status).toBe(200)
    expect(await linked.json()).toEqual({ linked: 2 })
    // A page the tab sent later, still under its anonymous id, is hers too.
    expect((await post('/api/activity', { activityType: 'page_view', anonymousId: 'anon-1' })).status).toBe(200)
    const mine = await list(as('alice'))
    expect(mine.map((activity) => activity.activityType).sort()).toEqual(['click', 'page_view', 'page_view'])
    expect(mine.every((activity) => activity.userId === 'alice')).toBe(true)
    const stats = (await (await fetch(`${server.url}/api/activities/stats`, { headers: ADMIN })).json()) as { uniqueVisitors: number; uniqueUsers: number }
    expect(stats).toMatchObject({ uniqueVisitors: 1, uniqueUsers: 1 })
  })

  it('refuses anonymous requests, and links nothing', async () => {
    opened = await kind.open()
    server = await startServer({ store: opened.store })
    await post('/api/activity', { activityType: 'page_view', anonymousId: 'anon-2' })
    for (const body of [{ anonymousId: 'anon-2' }, { anonymousId: 'anon-2', userId: 'mallory' }]) {
      const response = await post('/api/identify', body)
      expect(response.status).toBe(401)
      expect(((await response.json()) as { error: string }).error).toContain('Sign in')
    }
    expect((await list(ADMIN)).map((activity) => activity.userId)).toEqual([undefined])
  })

  it("never links another user's id, not even for an admin", async () => {
    opened = await kind.open()
    server = await startServer({ store: opened.store })
    await post('/api/activity', { activityType: 'page_view', anonymousId: 'anon-3' })
    for (const [headers, userId] of [
      [as('mallory'), 'alice'],
      [ADMIN, 'alice'],
    ] as const) {
      const response = await post('/api/identify', { anonymousId: 'anon-3', userId }, headers)
      expect(response.status).toBe(403)
    }
    expect((await list(ADMIN)).map((activity) => activity.userId)).toEqual([undefined])
    // Naming oneself is allowed, as `user_id` too.
    expect((await post('/api/identify', { anonymous_id: 'anon-3', user_id: 'alice' }, as('alice'))).status).toBe(200)
    expect((await list(ADMIN)).map((activity) => activity.userId)).toEqual(['alice'])
  })
})

describe('POST /identify', () => {
  it('takes JSON only, so a cross-site form or beacon cannot link a signed-in victim', async () => {
    server = await startServer()
    await post('/api/activity', { activityType: 'page_view', anonymousId: 'attacker' })
    const response = await fetch(`${server.url}/api/identify`, { method: 'POST', headers: { 'content-type': 'text/plain', ...as('victim') }, body: '{"anonymousId":"attacker"}' })
    expect(response.status).toBe(415)
    expect((await list(ADMIN)).map((activity) => activity.userId)).toEqual([undefined])
  })

  it('answers 400 naming the field for a missing or unusable anonymous id', async () => {
    server = await startServer()
    for (const body of [{}, { anonymousId: '' }, { anonymousId: 7 }, { anonymousId: 'x'.repeat(257) }]) {
      const response = await post('/api/identify', body, as('alice'))
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(((await response.json()) as { issues: { path: string[] }[] }).issues[0]!.path).toEqual(['anonymousId'])
    }
    expect((await post('/api/identify', ['anon'], as('alice'))).status).toBe(400)
    expect((await post('/api/identify', { anonymousId: 'a', user_id: '' }, as('alice'))).status).toBe(400)
  })

  it('answers 501 naming the store when it cannot link identities', async () => {
    const { identify: _identify, ...rest } = memoryStore()
    const store: Store = rest
    server = await startServer({ store })
    const response = await post('/api/identify', { anonymousId: 'anon' }, as('alice'))
    expect(response.status).toBe(501)
    expect(((await response.json()) as { error: string }).error).toContain('The memory store cannot link identities')
  })

  it("answers 501 with the store's reason when its table cannot do it (no anonymous id), never a 503 to retry", async () => {
    const db = await PGlite.create()
    try {
      await db.exec('CREATE TABLE activity (id SERIAL PRIMARY KEY, user_id text, action text NOT NULL, details jsonb, created_at timestamptz DEFAULT now())')
      const store = postgresStore({
        client: db,
        table: 'activity',
        mapping: { fields: { userId: 'user_id', activityType: 'action', timestamp: 'created_at', id: { key: 'activity_id' }, anonymousId: false, receivedAt: false }, json: 'details' },
      })
      server = await startServer({ store })
      const linked = await post('/api/identify', { anonymousId: 'anon' }, as('alice'))
      expect(linked.status).toBe(501)
      expect(((await linked.json()) as { error: string }).error).toContain('cannot link on this table: it keeps no anonymous id')
      const deleted = await fetch(`${server.url}/api/personal-data?anonymousId=anon`, { method: 'DELETE', headers: ADMIN })
      expect(deleted.status).toBe(501)
      expect(((await deleted.json()) as { error: string }).error).toContain('cannot find activities by anonymousId')
    } finally {
      await db.close()
    }
  })

  it('in insecureDevelopmentMode, links the user id the body names', async () => {
    server = await startServer({ authenticate: undefined, insecureDevelopmentMode: true })
    await post('/api/activity', { activityType: 'page_view', anonymousId: 'dev-anon' })
    expect((await post('/api/identify', { anonymousId: 'dev-anon', userId: 'dev-user' })).status).toBe(200)
    expect((await list({})).map((activity) => activity.userId)).toEqual(['dev-user'])
  })
})
