import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { uniqueSchema } from '../../../packages/postgres/test/database'
import { runExample, type RunningExample } from '../../test/run-example'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const EVENTS_TOKEN = 'events-backend-token-0123456789'
const METRICS_TOKEN = 'metrics-scrape-token-0123456789'
const LISTENING = /Event log on (http:\/\/[\d.]+:\d+)/

let running: RunningExample | undefined
afterEach(async () => {
  if (running?.child.exitCode === null) running.child.kill('SIGKILL')
  running = undefined
})

describe('pnpm start (src/main.ts)', () => {
  it(`serves the event log from ${process.env.DATABASE_URL ? 'the PostgreSQL server at DATABASE_URL' : 'PGlite'} and stops cleanly on SIGTERM`, async () => {
    const schema = uniqueSchema('event_log_main')
    try {
      const app = (running = await runExample(root, { EVENTS_TOKEN, METRICS_TOKEN, DATABASE_SCHEMA: schema }, LISTENING))
      const headers = { authorization: `Bearer ${EVENTS_TOKEN}`, 'content-type': 'application/json' }
      const event = { user_id: 6, event_action_timestamp: '2025-10-10T18:30:00Z', action: 'deleted', metadata: { device: 'iPhone 14' } }
      expect((await fetch(`${app.url}/api/event`, { method: 'POST', headers, body: JSON.stringify(event) })).status).toBe(201)
      const found = await (await fetch(`${app.url}/api/events?user_id=6`, { headers })).json()
      expect(found).toEqual([{ ...event, event_action_timestamp: '2025-10-10T18:30:00.000Z' }])
      const metrics = await (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text()
      expect(metrics).toContain('user_activity_tracking_api_requests_total{route="/api/event",method="POST",status="201"} 1')
      expect(await app.stop()).toBe(0)
      expect(app.output()).toContain('Event log stopped.')
    } finally {
      if (process.env.DATABASE_URL) {
        const client = new pg.Client({ connectionString: process.env.DATABASE_URL })
        await client.connect()
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
        await client.end()
      }
    }
  })

  it('refuses to start without the tokens, saying which variables to set', async () => {
    await expect(runExample(root, { EVENTS_TOKEN: '', METRICS_TOKEN }, LISTENING)).rejects.toThrow(/exited with 1[\s\S]*EVENTS_TOKEN and METRICS_TOKEN/)
  })
})
