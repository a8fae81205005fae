import type { Activity, ActivityStats } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import type { ActivityHandlerOptions } from './handler'
import { ADMIN, as, bearerAuthenticate, startServer as startOn, TRANSPORTS, type TestServer } from '../test/test-server'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server!.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

async function seed(rows: Partial<Activity>[]): Promise<void> {
  const activities = rows.map((row) => ({ id: crypto.randomUUID(), activityType: 'job_match', timestamp: new Date().toISOString(), ...row }))
  await server!.store.sink.write(activities, { signal: new AbortController().signal })
}

const READS = ['/api/activities', '/api/activities/stats', '/api/activities/export', '/api/activities/stream']

describe.each(TRANSPORTS)('through the %s', (transport) => {
  const startServer = (options?: Partial<ActivityHandlerOptions>) => startOn(options, transport)

  describe('anonymous ingest cannot claim a user', () => {
    it('refuses a userId (or user_id) in an anonymous request with 403 and stores nothing of it', async () => {
      server = await startServer()
      for (const body of [{ activityType: 'x', userId: 'victim' }, { action: 'deleted', user_id: 6 }, [{ activityType: 'ok', anonymousId: 'a1' }, { activityType: 'x', userId: 'victim' }]]) {
        const response = await post(body)
        expect(response.status, JSON.stringify(body)).toBe(403)
        expect(((await response.json()) as { error: string }).error).toContain('anonymousId')
      }
      expect(server.store.size).toBe(0)
      // What the victim sees of their own activities: nothing anyone else wrote.
      const { items } = (await (await fetch(`${server.url}/api/activities`, { headers: as('victim') })).json()) as { items: unknown[] }
      expect(items).toEqual([])
    })

    it('takes anonymous visitors with anonymousId and sessionId', async () => {
      server = await startServer()
      expect((await post({ activityType: 'page_view', anonymousId: 'ut_9c1', sessionId: 's1' })).status).toBe(200)
      const [stored] = (await server.store.list()).items
      expect(stored).toMatchObject({ anonymousId: 'ut_9c1', sessionId: 's1' })
      expect(stored!.userId).toBeUndefined()
    })

    it('also when the server has no authenticate at all', async () => {
      server = await startServer({ authenticate: undefined })
      expect((await post({ activityType: 'x', userId: 'victim' })).status).toBe(403)
      expect((await post({ activityType: 'x', anonymousId: 'a1' })).status).toBe(200)
      expect(server.store.size).toBe(1)
    })

    it('stores client-sent user ids when trustClientUserIds says every client is trusted', async () => {
      server = await startServer({ authenticate: undefined, trustClientUserIds: true })
      expect((await post({ action: 'deleted', user_id: 6 })).status).toBe(200)
      expect((await server.store.list()).items[0]!.userId).toBe('6')
    })

    it('lets a signed-in user write as themselves only, and an admin as anyone', async () => {
      server = await startServer()
      expect((await post({ activityType: 'x' }, as('alice'))).status).toBe(200)
      expect((await post({ activityType: 'x', userId: 'alice' }, as('alice'))).status).toBe(200)
      expect((await post([{ activityType: 'x' }, { activityType: 'x', userId: 'bob' }], as('alice'))).status).toBe(403)
      expect((await post({ activityType: 'x', userId: 'bob' }, ADMIN)).status).toBe(200)
      const users = (await server.store.list()).items.map((item) => item.userId).sort()
      expect(users).toEqual(['alice', 'alice', 'bob'])
    })
  })

  describe('reads need a principal', () => {
    it('answers 401 saying how to configure authenticate when the server has none', async () => {
      server = await startServer({ authenticate: undefined })
      await post({ activityType: 'x', anonymousId: 'a1' })
      for (const path of READS) {
        const response = await fetch(`${server.url}${path}`)
        expect(response.status, path).toBe(401)
        const { error } = (await response.json()) as { error: string }
        expect(error, path).toContain('`authenticate`')
        expect(error, path).toContain('insecureDevelopmentMode')
      }
    })

    it('answers 401 to a request authenticate does not know', async () => {
      server = await startServer()
      for (const path of READS) {
        const response = await fetch(`${server.url}${path}`)
        expect(response.status, path).toBe(401)
        expect(((await response.json()) as { error: string }).error).toContain('Sign in')
      }
    })

    it('serves reads to anyone only with insecureDevelopmentMode', async () => {
      server = await startServer({ authenticate: undefined, insecureDevelopmentMode: true })
      expect((await post({ activityType: 'x', userId: 'dev' })).status).toBe(200)
      const { items } = (await (await fetch(`${server.url}/api/activities`)).json()) as { items: { userId: string }[] }
      expect(items.map((item) => item.userId)).toEqual(['dev'])
      expect((await fetch(`${server.url}/api/activities/stats`)).status).toBe(200)
    })

    it('passes a Response from authenticate through as is, CORS headers added', async () => {
      server = await startServer({
        cors: { origin: ['https://app.example'] },
        authenticate: () => Response.redirect('https://login.example/', 302),
      })
      const response = await fetch(`${server.url}/api/activities`, { redirect: 'manual', headers: { origin: 'https://app.example' } })
      expect(response.status).toBe(302)
      expect(response.headers.get('location')).toBe('https://login.example/')
      expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example')
    })
  })

  describe('scoping', () => {
    it('shows a user only their own rows, whatever userId the query names', async () => {
      server = await startServer()
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

    it('answers with the Response authenticate returns, such as a 403 for a banned user', async () => {
      server = await startServer({
        authenticate: (request) =>
          request.headers.get('authorization') === 'Bearer banned' ? new Response('banned', { status: 403 }) : bearerAuthenticate(request),
      })
      for (const path of READS) expect((await fetch(`${server.url}${path}`, { headers: as('banned') })).status, path).toBe(403)
      expect((await post({ activityType: 'x' }, as('banned'))).status).toBe(403)
      expect(server.store.size).toBe(0)
    })

    it('refuses anonymous ingest with 401 when told to', async () => {
      server = await startServer({ allowAnonymousIngest: false })
      const response = await fetch(`${server.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"activityType":"x"}' })
      expect(response.status).toBe(401)
      expect(server.store.size).toBe(0)
    })
  })

  describe('a faulty authenticate', () => {
    it('answers 500 and reports it when a principal has no userId, rather than acting as nobody in particular', async () => {
      const errors: unknown[] = []
      server = await startServer({ authenticate: () => ({ userId: undefined as unknown as string, admin: false }), onError: (error) => errors.push(error) })
      expect((await fetch(`${server.url}/api/activities`)).status).toBe(500)
      expect((await post({ activityType: 'x' })).status).toBe(500)
      expect(server.store.size).toBe(0)
      expect(String(errors[0])).toContain('without a userId')
    })
  })
})
