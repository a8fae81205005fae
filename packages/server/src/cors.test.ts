import { memoryStore } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import { createActivityHandler, type ActivityHandlerOptions } from './handler'
import { ADMIN, startServer as startOn, TRANSPORTS, type TestServer } from '../test/test-server'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe.each(TRANSPORTS)('through the %s', (transport) => {
  const startServer = (options?: Partial<ActivityHandlerOptions>) => startOn(options, transport)

  describe('CORS', () => {
    it('refuses credentials without an explicit origin list or predicate, at construction', () => {
      const store = memoryStore()
      for (const cors of [{ credentials: true }, { credentials: true, origin: '*' }, { credentials: true, origin: ['https://app.example', '*'] }]) {
        expect(() => createActivityHandler({ store, cors }), JSON.stringify(cors)).toThrow(TypeError)
        expect(() => createActivityHandler({ store, cors }), JSON.stringify(cors)).toThrow(/options\.cors\.credentials needs options\.cors\.origin/)
      }
      expect(() => createActivityHandler({ store, cors: { credentials: true, origin: (origin) => origin.endsWith('.example') } })).not.toThrow()
    })

    it('reflects only allowed origins, with credentials, never `*`, and always varies on Origin', async () => {
      server = await startServer({ cors: { origin: ['https://app.example'], credentials: true } })
      const allowed = await fetch(`${server.url}/api/activities`, { headers: { ...ADMIN, origin: 'https://app.example' } })
      expect(allowed.status).toBe(200)
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example')
      expect(allowed.headers.get('access-control-allow-credentials')).toBe('true')
      expect(allowed.headers.get('vary')).toContain('Origin')
      for (const origin of ['https://evil.example', 'null', 'https://app.example.evil.example']) {
        const other = await fetch(`${server.url}/api/activities`, { headers: { ...ADMIN, origin } })
        expect(other.headers.get('access-control-allow-origin'), origin).toBeNull()
        expect(other.headers.get('access-control-allow-credentials'), origin).toBeNull()
        // A shared cache must not hand this answer to the allowed origin, nor the allowed one to this.
        expect(other.headers.get('vary'), origin).toContain('Origin')
      }
    })

    it('with a predicate, asks it about each origin', async () => {
      server = await startServer({ cors: { origin: (origin) => /^https:\/\/[a-z]+\.shop\.example$/.test(origin), credentials: true } })
      const tenant = await fetch(`${server.url}/api/activities`, { headers: { ...ADMIN, origin: 'https://acme.shop.example' } })
      expect(tenant.headers.get('access-control-allow-origin')).toBe('https://acme.shop.example')
      const other = await fetch(`${server.url}/api/activities`, { headers: { ...ADMIN, origin: 'https://shop.example.evil' } })
      expect(other.headers.get('access-control-allow-origin')).toBeNull()
    })

    it('`cors: true` answers any origin with `*` and no credentials, for a public script tag', async () => {
      server = await startServer({ cors: true })
      const response = await fetch(`${server.url}/api/activity`, {
        method: 'POST',
        headers: { origin: 'https://customer.example', 'content-type': 'text/plain' },
        body: '{"activityType":"page_view","anonymousId":"a1"}',
      })
      expect(response.status).toBe(200)
      expect(response.headers.get('access-control-allow-origin')).toBe('*')
      expect(response.headers.get('access-control-allow-credentials')).toBeNull()
      expect(response.headers.get('access-control-expose-headers')).toBe('Retry-After')
    })

    it('answers preflights with the route method, and the CORS headers for allowed origins only', async () => {
      server = await startServer({ cors: { origin: 'https://app.example' } })
      const preflight = await fetch(`${server.url}/api/activity`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example')
      expect(preflight.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS')
      expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type')
      expect(preflight.headers.get('vary')).toContain('Access-Control-Request-Headers')
      const refused = await fetch(`${server.url}/api/activity`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      })
      expect(refused.headers.get('access-control-allow-origin')).toBeNull()
    })

    it('sends no CORS headers when CORS is off', async () => {
      server = await startServer()
      const response = await fetch(`${server.url}/api/activities`, { headers: { ...ADMIN, origin: 'https://app.example' } })
      expect(response.headers.get('access-control-allow-origin')).toBeNull()
      expect((await fetch(`${server.url}/api/activities`, { method: 'OPTIONS' })).status).toBe(405)
    })
  })
})
