/**
 * Chaos: 15 s of batched ingest through `createActivityHandler` (node:http, in a child process)
 * into the real PostgreSQL server, through a TCP proxy that resets and stalls the database
 * connections several times. The server process never exits, every 2xx answer's activities are in
 * the table afterwards (once), outages answer 503 with Retry-After, and each time the database is
 * back the handler answers 2xx again within a second, by itself. 127.0.0.1 only; bounded in time.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { uuidv7 } from '@usertracking/core'
import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { serverAvailable, serverUrl, uniqueSchema } from '../test/database'
import { startTcpProxy } from '../test/tcp-proxy'
import { postgresStore } from './index'
import { COPY_MIN_ROWS } from './postgres-sink'

const here = dirname(fileURLToPath(import.meta.url))
const CHAOS_MS = 15_000
// Each request's batch takes the COPY path, so a reset can land in the middle of a COPY.
const BATCH = COPY_MIN_ROWS
const CLIENTS = 4
const QUERY_TIMEOUT_MS = 500

type Fault = { atMs: number; kind: 'reset' | 'reset-mid-copy' } | { atMs: number; kind: 'stall'; forMs: number }
const FAULTS: Fault[] = [
  { atMs: 1500, kind: 'reset' },
  { atMs: 3000, kind: 'stall', forMs: 2000 },
  { atMs: 6500, kind: 'reset-mid-copy' },
  { atMs: 8000, kind: 'stall', forMs: 1500 },
  { atMs: 11_000, kind: 'reset' },
  { atMs: 12_500, kind: 'stall', forMs: 1000 },
]

const admin = new pg.Pool({ connectionString: serverUrl, max: 2 })
afterAll(async () => {
  await admin.end()
})

function startServer(databaseUrl: string, schema: string): { child: ChildProcess; port: Promise<number>; output: () => string } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@usertracking/source', join(here, '..', 'test', 'fixtures', 'ingest-server.ts'), databaseUrl, schema, String(QUERY_TIMEOUT_MS)],
    { cwd: join(here, '..'), stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const port = new Promise<number>((resolve, reject) => {
    let stdout = ''
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      const match = /listening (\d+)/.exec(stdout)
      if (match) resolve(Number(match[1]))
    })
    child.on('exit', (code) => reject(new Error(`The ingest server exited (${code}) before listening.\n${output}`)))
  })
  return { child, port, output: () => output }
}

it.skipIf(!serverAvailable)(
  'keeps ingesting through resets and stalls of the database: no exit, no acknowledged activity lost, 503 + Retry-After while down, 2xx within a second of recovery',
  async () => {
    const schema = uniqueSchema('chaos')
    const migrator = postgresStore({ client: admin, schema })
    await migrator.migrate()
    const url = new URL(serverUrl)
    const proxy = await startTcpProxy({ host: url.hostname || '127.0.0.1', port: Number(url.port || 5432) })
    const server = startServer(proxy.urlFor(serverUrl), schema)
    try {
      const port = await server.port
      const endpoint = `http://127.0.0.1:${port}/api/activity`
      const acknowledged = new Set<string>()
      const answers: { status: number; retryAfter: string | null; sentAt: number; answeredAt: number }[] = []
      const unexpected: string[] = []
      const started = performance.now()
      const now = () => performance.now() - started
      let running = true

      const client = async () => {
        while (running) {
          const activities = Array.from({ length: BATCH }, (_, index) => ({
            id: uuidv7(),
            userId: `user-${index % 7}`,
            activityType: 'chat_completion',
            tokenUsage: { input: 100, output: 50, total: 150 },
            metadata: { model: 'gpt-4o', attempt: index },
          }))
          const sentAt = now()
          try {
            const response = await fetch(endpoint, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ activities }),
            })
            await response.arrayBuffer()
            answers.push({ status: response.status, retryAfter: response.headers.get('retry-after'), sentAt, answeredAt: now() })
            if (response.ok) for (const activity of activities) acknowledged.add(activity.id)
            else if (response.status !== 503) unexpected.push(`HTTP ${response.status}`)
            // Retry quickly: the test measures how soon the handler recovers, not how patient a client is.
            else await sleep(50)
          } catch (error) {
            unexpected.push(`request failed: ${error instanceof Error ? error.message : String(error)}`)
            await sleep(50)
          }
        }
      }

      const recoveries: number[] = []
      const chaos = async () => {
        for (const fault of FAULTS) {
          await sleep(Math.max(0, fault.atMs - now()))
          if (fault.kind === 'reset') {
            proxy.resetAll()
            recoveries.push(now())
          } else if (fault.kind === 'reset-mid-copy') {
            const fired = await Promise.race([proxy.resetOnMessage('d').then(() => true), sleep(3000).then(() => false)])
            if (fired) recoveries.push(now())
            else unexpected.push('no COPY reached the database within 3 s to reset')
          } else if (fault.kind === 'stall') {
            proxy.stall()
            await sleep(fault.forMs)
            proxy.resume()
            recoveries.push(now())
          }
        }
        await sleep(Math.max(0, CHAOS_MS - now()))
        running = false
      }

      await Promise.all([chaos(), ...Array.from({ length: CLIENTS }, client)])

      expect(server.child.exitCode, `the server exited:\n${server.output()}`).toBeNull()
      expect(server.output()).not.toMatch(/Unhandled|uncaught/i)
      expect(unexpected).toEqual([])
      const outages = answers.filter((answer) => answer.status === 503)
      expect(outages.length, 'the stalls answered 503').toBeGreaterThan(0)
      for (const outage of outages) expect(outage.retryAfter).toMatch(/^\d+$/)
      for (const recoveredAt of recoveries) {
        const firstOk = answers
          .filter((answer) => answer.status < 300 && answer.sentAt >= recoveredAt)
          .reduce((first, answer) => Math.min(first, answer.answeredAt), Infinity)
        expect(firstOk - recoveredAt, `2xx again after the recovery at ${Math.round(recoveredAt)} ms`).toBeLessThan(1000)
      }

      const { rows } = await admin.query(`SELECT id::text AS id FROM "${schema}".user_activities`)
      const storedIds = new Set(rows.map((row) => String(row.id)))
      expect(storedIds.size, 'no activity stored twice').toBe(rows.length)
      const missing = [...acknowledged].filter((id) => !storedIds.has(id))
      expect(missing, 'acknowledged activities missing from the table').toEqual([])
      expect(acknowledged.size).toBeGreaterThan(BATCH * FAULTS.length)
    } finally {
      server.child.kill('SIGTERM')
      await proxy.close()
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    }
  },
  60_000,
)
