import { execFileSync, spawnSync } from 'node:child_process'
import { memoryStore } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import { bearerToken } from './bearer-token'
import { createActivityHandler, type ActivityHandlerOptions } from './handler'
import { ADMIN, startServer as startOn, TRANSPORTS, type TestServer } from '../test/test-server'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const TOKEN = 'scrape-token-0123456789abcdef'
const scraper = { authorization: `Bearer ${TOKEN}` }

/** Prometheus' own linter for the text format, from Debian's `prometheus` package. */
const promtool = (() => {
  const found = spawnSync('promtool', ['--version'], { stdio: 'ignore' })
  return found.error === undefined && found.status === 0
})()
const inCi = process.env.CI === 'true'
if (!promtool && !inCi) {
  console.warn(`
################################################################################
#  [usertracking] [server] promtool is not installed: the exposition-format    #
#  check against Prometheus' own linter DID NOT RUN. Install it with           #
#  apt-get install -y prometheus. With CI=true a missing promtool fails.       #
################################################################################
`)
}

async function post(body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server!.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
}

describe.each(TRANSPORTS)('through the %s', (transport) => {
  const startServer = (options?: Partial<ActivityHandlerOptions>) => startOn(options, transport)

  describe('the metrics route', () => {
    it('answers 401 until it has a guard of its own, whatever the app guard lets in', async () => {
      server = await startServer()
      for (const headers of [{}, ADMIN]) {
        const response = await fetch(`${server.url}/metrics`, { headers })
        expect(response.status).toBe(401)
        expect(response.headers.get('www-authenticate')).toBe('Bearer realm="metrics"')
        expect(((await response.json()) as { error: string }).error).toContain('metrics.authenticate')
      }
    })

    it('lets in the bearer token Prometheus sends, and nothing else', async () => {
      server = await startServer({ metrics: { authenticate: bearerToken(TOKEN) } })
      expect((await fetch(`${server.url}/metrics`, { headers: scraper })).status).toBe(200)
      for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, 'Bearer ', TOKEN, 'Bearer admin']) {
        expect((await fetch(`${server.url}/metrics`, { headers: { authorization } })).status, authorization).toBe(401)
      }
    })

    it('refuses a missing or short bearer token at construction, so an unset variable is not an open door', () => {
      expect(() => bearerToken(undefined)).toThrow(TypeError)
      expect(() => bearerToken('')).toThrow(/at least 16 characters/)
      expect(() => bearerToken('short')).toThrow(TypeError)
    })

    it('is served without a guard in insecureDevelopmentMode, and not at all with `metrics: false`', async () => {
      server = await startServer({ insecureDevelopmentMode: true })
      expect((await fetch(`${server.url}/metrics`)).status).toBe(200)
      await server.close()
      server = await startServer({ metrics: false })
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404)
    })

    it('keeps the method label to a fixed set: other methods are counted as OTHER', async () => {
      // node:http's parser refuses methods it does not know; these WebDAV and other registered ones it passes on.
      const unusual = ['PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT', 'PURGE', 'LINK', 'UNLINK', 'MKCALENDAR', 'ACL']
      server = await startServer({ metrics: { authenticate: bearerToken(TOKEN) } })
      for (const method of unusual) await fetch(`${server.url}/api/activity`, { method })
      await fetch(`${server.url}/api/nowhere-${crypto.randomUUID()}`, { method: 'SEARCH' })
      const text = await (await fetch(`${server.url}/metrics`, { headers: scraper })).text()
      expect(text).toContain(`usertracking_requests_total{route="/api/activity",method="OTHER",status="405"} ${unusual.length}`)
      expect(text).toContain('usertracking_requests_total{route="unmatched",method="OTHER",status="404"} 1')
      expect(text).not.toMatch(/PROPFIND|SEARCH|nowhere/)
      // 15 requests with 14 methods and a made-up path made two series, not 15.
      expect(text.split('\n').filter((line) => line.startsWith('usertracking_requests_total{')).length).toBe(2)
    })

    it('counts made-up methods as OTHER on runtimes that pass any method to the handler', async () => {
      const handler = createActivityHandler({ store: memoryStore(), metrics: { authenticate: () => true } })
      for (let index = 0; index < 40; index++) await handler(new Request('http://localhost/api/activity', { method: `M${index}X` }))
      const text = await (await handler(new Request('http://localhost/metrics'))).text()
      expect(text).toContain('usertracking_requests_total{route="/api/activity",method="OTHER",status="405"} 40')
      expect(text).not.toMatch(/M\d+X/)
      handler.close()
    })

    it("names metrics as story 2's Grafana dashboard expects, with constant labels", async () => {
      server = await startServer({
        metrics: { authenticate: bearerToken(TOKEN), prefix: 'user_activity_tracking_api_', labels: { service: 'events' } },
      })
      await post('{"activityType":"deleted"}')
      await post('{not json')
      const text = await (await fetch(`${server.url}/metrics`, { headers: scraper })).text()
      expect(text).toContain('user_activity_tracking_api_requests_total{service="events",route="/api/activity",method="POST",status="200"} 1')
      expect(text).toContain('user_activity_tracking_api_requests_errors_total{service="events",route="/api/activity",method="POST",status="400"} 1')
      expect(text).toContain('user_activity_tracking_api_activities_ingested_total{service="events"} 1')
      expect(text).toContain('user_activity_tracking_api_ingest_duration_seconds_bucket{service="events",le="+Inf"} 1')
      expect(text).not.toContain('usertracking_')
    })

    it('refuses a prefix or labels Prometheus cannot read, naming the option', () => {
      const store = memoryStore()
      expect(() => createActivityHandler({ store, metrics: { prefix: 'user-activity' } })).toThrow(/options\.metrics\.prefix/)
      expect(() => createActivityHandler({ store, metrics: { prefix: '9lives_' } })).toThrow(TypeError)
      expect(() => createActivityHandler({ store, metrics: { labels: { route: 'x' } } })).toThrow(/options\.metrics\.labels\.route/)
      expect(() => createActivityHandler({ store, metrics: { labels: { 'bad-name': 'x' } } })).toThrow(TypeError)
      expect(() => createActivityHandler({ store, metrics: { path: 'metrics' } })).toThrow(/options\.metrics\.path/)
    })

    it('counts requests, errors, ingested activities and ingest latency', async () => {
      server = await startServer({ metrics: { authenticate: bearerToken(TOKEN) } })
      await post('[{"activityType":"a"},{"activityType":"b"}]')
      await post('{"activityType":"c"}')
      await post('{not json')
      await post('[{"activityType":"ok"},{"activityType":""}]')
      await post('{"activityType":"d","userId":"someone-else"}')
      await fetch(`${server.url}/api/activities`, { headers: ADMIN })
      const text = await (await fetch(`${server.url}/metrics`, { headers: scraper })).text()
      expect(text).toContain('usertracking_requests_total{route="/api/activity",method="POST",status="200"} 2')
      expect(text).toContain('usertracking_requests_total{route="/api/activity",method="POST",status="400"} 2')
      expect(text).toContain('usertracking_requests_total{route="/api/activity",method="POST",status="403"} 1')
      expect(text).toContain('usertracking_requests_errors_total{route="/api/activity",method="POST",status="400"} 2')
      expect(text).toContain('usertracking_requests_total{route="/api/activities",method="GET",status="200"} 1')
      expect(text).toContain('usertracking_activities_ingested_total 3')
      expect(text).toContain('usertracking_activities_rejected_total{reason="invalid"} 2')
      expect(text).toContain('usertracking_activities_rejected_total{reason="forbidden"} 1')
      expect(text).toContain('usertracking_ingest_duration_seconds_count 2')
    })

    it.skipIf(!promtool && !inCi)("passes Prometheus' own `promtool check metrics`", async () => {
      expect(promtool, 'promtool must be installed under CI (apt-get install -y prometheus)').toBe(true)
      server = await startServer({ metrics: { authenticate: bearerToken(TOKEN), prefix: 'user_activity_tracking_api_', labels: { service: 'events' } } })
      await post('[{"activityType":"a"},{"activityType":"b"}]')
      await post('{"activityType":"c","userId":"forged"}')
      await post('{"activityType":"d","metadata":"not an object"}')
      await fetch(`${server.url}/api/activities`, { headers: ADMIN })
      await fetch(`${server.url}/api/activity`, { method: 'PROPFIND' })
      const text = await (await fetch(`${server.url}/metrics`, { headers: scraper })).text()
      // promtool exits non-zero and names the line for any format error or lint problem.
      const output = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
      expect(output).toBe('')
    })
  })
})
