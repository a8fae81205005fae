import { afterEach, describe, expect, it } from 'vitest'
import { ADMIN, startServer, type TestServer } from '../test/test-server'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function issuesOf(path: string): Promise<{ status: number; issues: { path: string[]; message: string }[] }> {
  const response = await fetch(`${server!.url}${path}`, { headers: ADMIN })
  const body = (await response.json()) as { issues?: { path: string[]; message: string }[] }
  return { status: response.status, issues: body.issues ?? [] }
}

const ROUTES = ['/api/activities', '/api/activities/stats', '/api/activities/export']

describe('time parameters', () => {
  it.each([
    ['from', '-271821-04-20'],
    ['to', '-8640000000000000'],
    ['from', '8640000000000000'],
    ['to', '+275760-09-13T00:00:00Z'],
    ['from', '10000-01-01T00:00:00Z'],
    ['to', '0000-12-31T23:59:59Z'],
  ])('refuses %s=%s, outside years 1–9999, with 400 naming it on every read route', async (name, value) => {
    server = await startServer()
    for (const route of ROUTES) {
      const { status, issues } = await issuesOf(`${route}?${name}=${encodeURIComponent(value)}`)
      expect(status, route).toBe(400)
      expect(issues, route).toEqual([{ path: ['query', name], message: expect.stringContaining('from year 1 to year 9999') }])
    }
  })

  it('takes the edges of the range and epoch milliseconds', async () => {
    server = await startServer()
    for (const route of ROUTES) {
      expect((await fetch(`${server.url}${route}?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z`, { headers: ADMIN })).status, route).toBe(200)
      expect((await fetch(`${server.url}${route}?from=0&to=1767225600000`, { headers: ADMIN })).status, route).toBe(200)
    }
  })
})

describe('unknown query parameters', () => {
  it('answer 400 naming them, instead of being ignored', async () => {
    server = await startServer()
    const list = await issuesOf('/api/activities?userid=6&pageSize=10')
    expect(list.status).toBe(400)
    expect(list.issues.map((issue) => issue.path[1]).sort()).toEqual(['pageSize', 'userid'])
    expect(list.issues[0]!.message).toContain('Unknown query parameter')
    const stats = await issuesOf('/api/activities/stats?page=2')
    expect(stats).toEqual({ status: 400, issues: [{ path: ['query', 'page'], message: expect.stringContaining('interval') }] })
    const exported = await issuesOf('/api/activities/export?limit=5')
    expect(exported.issues.map((issue) => issue.path[1])).toEqual(['limit'])
  })

  it('accept the aliases apps send', async () => {
    server = await startServer()
    for (const path of ['/api/activities?user_id=6&action=deleted&action_type=x&type=y', '/api/activities/stream?lastEventId=abc-1&userId=1']) {
      const response = await fetch(`${server.url}${path}`, { headers: ADMIN })
      expect(response.status, path).toBe(200)
      await response.body?.cancel()
    }
  })
})
