import { memoryStore } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import { createActivityHandler } from './handler'
import { ADMIN, startServer, type TestServer } from '../test/test-server'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe('the route table', () => {
  it('answers unknown routes with 404 and wrong methods with 405 and Allow', async () => {
    server = await startServer()
    expect((await fetch(`${server.url}/api/nope`)).status).toBe(404)
    const wrong = await fetch(`${server.url}/api/activity`)
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('POST')
    expect((await fetch(`${server.url}/api/activities`, { method: 'DELETE' })).status).toBe(405)
  })

  it('mounts under another base path, trailing slashes or not', async () => {
    server = await startServer({ basePath: '/track/' })
    expect((await fetch(`${server.url}/track/activities`, { headers: ADMIN })).status).toBe(200)
    expect((await fetch(`${server.url}/track/activities/`, { headers: ADMIN })).status).toBe(200)
    expect((await fetch(`${server.url}/api/activities`, { headers: ADMIN })).status).toBe(404)
  })

  it('moves a route to the paths it names, keeps the others, and turns off the ones set to false', async () => {
    server = await startServer({ routes: { ingest: '/track', list: ['/admin/activities', '/user/activity/log'], export: false } })
    const tracked = await fetch(`${server.url}/api/track`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"activityType":"page_visit"}' })
    expect(tracked.status).toBe(200)
    expect((await fetch(`${server.url}/api/activity`, { method: 'POST', body: '{}' })).status).toBe(404)
    for (const path of ['/api/admin/activities', '/api/user/activity/log', '/api/activities/stats']) {
      expect((await fetch(`${server.url}${path}`, { headers: ADMIN })).status, path).toBe(200)
    }
    for (const path of ['/api/activities', '/api/events', '/api/activities/export']) {
      expect((await fetch(`${server.url}${path}`, { headers: ADMIN })).status, path).toBe(404)
    }
    expect((await fetch(`${server.url}/api/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"action":"x"}' })).status).toBe(201)
  })

  it('refuses a route table it cannot serve, naming the option', () => {
    const store = memoryStore()
    expect(() => createActivityHandler({ store, routes: { ingest: 'track' } })).toThrow(/options\.routes\.ingest must be a path/)
    expect(() => createActivityHandler({ store, routes: { list: '/events?x=1' } })).toThrow(TypeError)
    expect(() => createActivityHandler({ store, routes: { stats: '/activities' } })).toThrow(/\/api\/activities is already the list route/)
    expect(() => createActivityHandler({ store, routes: { lists: '/x' } as never })).toThrow(/options\.routes\.lists is not a route/)
    expect(() => createActivityHandler({ store, basePath: '', metrics: { path: '/events' } })).toThrow(/GET \/events is already the list route/)
  })

  it('lets routes of different methods share a path, and answers other methods with 405 naming them all', async () => {
    server = await startServer({ routes: { identify: '/activities' } })
    expect((await fetch(`${server.url}/api/activities`, { headers: ADMIN })).status).toBe(200)
    const linked = await fetch(`${server.url}/api/activities`, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body: '{"anonymousId":"a1"}' })
    expect(await linked.json()).toEqual({ linked: 0 })
    const wrong = await fetch(`${server.url}/api/activities`, { method: 'PUT', headers: ADMIN })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('GET, POST')
    expect(((await wrong.json()) as { error: string }).error).toContain('Use GET or POST for /api/activities.')
    expect((await fetch(`${server.url}/api/personal-data`, { method: 'PUT', headers: ADMIN })).headers.get('allow')).toBe('GET, DELETE')
  })
})
