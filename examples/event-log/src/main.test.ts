import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { uniqueSchema } from '../../../packages/postgres/test/database'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const EVENTS_TOKEN = 'events-backend-token-0123456789'
const METRICS_TOKEN = 'metrics-scrape-token-0123456789'

interface Started {
  child: ChildProcess
  url: string
  output: () => string
}

let started: Started | undefined
afterEach(() => {
  if (started?.child.exitCode === null) started.child.kill('SIGKILL')
  started = undefined
})

/** `pnpm start` as a user runs it (tsx from source), on a free port; resolves once it listens. */
function startMain(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@usertracking/source', 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8')
      const url = /Event log on (http:\/\/[\d.]+:\d+)/.exec(output)?.[1]
      if (url) resolve((started = { child, url, output: () => output }))
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`src/main.ts exited with ${code} before listening:\n${output}`)))
  })
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', resolve))
}

describe('pnpm start (src/main.ts)', () => {
  it(`serves the event log from ${process.env.DATABASE_URL ? 'the PostgreSQL server at DATABASE_URL' : 'PGlite'} and stops cleanly on SIGTERM`, async () => {
    const schema = uniqueSchema('event_log_main')
    const app = await startMain({ EVENTS_TOKEN, METRICS_TOKEN, DATABASE_SCHEMA: schema })
    try {
      const headers = { authorization: `Bearer ${EVENTS_TOKEN}`, 'content-type': 'application/json' }
      const event = { user_id: 6, event_action_timestamp: '2025-10-10T18:30:00Z', action: 'deleted', metadata: { device: 'iPhone 14' } }
      expect((await fetch(`${app.url}/api/event`, { method: 'POST', headers, body: JSON.stringify(event) })).status).toBe(201)
      const found = await (await fetch(`${app.url}/api/events?user_id=6`, { headers })).json()
      expect(found).toEqual([{ ...event, event_action_timestamp: '2025-10-10T18:30:00.000Z' }])
      const metrics = await (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text()
      expect(metrics).toContain('user_activity_tracking_api_requests_total{route="/api/event",method="POST",status="201"} 1')
      app.child.kill('SIGTERM')
      expect(await exited(app.child)).toBe(0)
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
    await expect(startMain({ EVENTS_TOKEN: '', METRICS_TOKEN })).rejects.toThrow(/exited with 1[\s\S]*EVENTS_TOKEN and METRICS_TOKEN/)
  })
})
