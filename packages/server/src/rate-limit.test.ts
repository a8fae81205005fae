import { afterEach, describe, expect, it } from 'vitest'
import type { ActivityHandlerOptions } from './handler'
import { createRateLimiter } from './rate-limit'
import { as, startServer as startOn, TRANSPORTS, type TestServer } from '../test/test-server'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

function post(headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server!.url}/api/activity`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ activityType: 'page_view', anonymousId: 'a1' }),
  })
}

describe.each(TRANSPORTS)('through the %s', (transport) => {
  const startServer = (options?: Partial<ActivityHandlerOptions>) => startOn(options, transport)

  describe('per-client limits on anonymous ingest', () => {
    it('answers 429 with Retry-After once a client IP has used its burst, and lets it in again as tokens refill', async () => {
      let now = Date.UTC(2025, 0, 1)
      server = await startServer({ rateLimit: { burst: 3, requestsPerSecond: 0.5 }, trustProxy: 1, now: () => now })
      const from = (ip: string) => ({ 'x-forwarded-for': ip })
      for (let index = 0; index < 3; index++) expect((await post(from('203.0.113.9'))).status).toBe(200)
      const limited = await post(from('203.0.113.9'))
      expect(limited.status).toBe(429)
      expect(limited.headers.get('retry-after')).toBe('2')
      // Another address has its own bucket; a signed-in user is not limited by the anonymous bucket.
      expect((await post(from('198.51.100.4'))).status).toBe(200)
      expect((await post({ ...from('203.0.113.9'), ...as('alice') })).status).toBe(200)
      now += 2000
      expect((await post(from('203.0.113.9'))).status).toBe(200)
      expect((await post(from('203.0.113.9'))).status).toBe(429)
      expect(server.store.size).toBe(6)
    })

    it('is off by default', async () => {
      server = await startServer()
      for (let index = 0; index < 110; index++) expect((await post()).status).toBe(200)
    })

    it('refuses rates that are not positive numbers, naming the option', () => {
      expect(() => createRateLimiter({ burst: 0 }, Date.now)).toThrow(/options\.rateLimit\.burst/)
      expect(() => createRateLimiter({ requestsPerSecond: Number.NaN }, Date.now)).toThrow(/options\.rateLimit\.requestsPerSecond/)
    })

    it('remembers at most maxClients addresses, forgetting the least recently seen', () => {
      const limiter = createRateLimiter({ burst: 1, requestsPerSecond: 0.001, maxClients: 2 }, () => 0)
      expect(limiter.take('a')).toBe(0)
      expect(limiter.take('b')).toBe(0)
      expect(limiter.take('a')).toBeGreaterThan(0)
      // c pushes out b, the least recently seen: b starts again with a full bucket, a is still limited.
      expect(limiter.take('c')).toBe(0)
      expect(limiter.take('b')).toBe(0)
      expect(limiter.take('c')).toBeGreaterThan(0)
    })
  })
})
