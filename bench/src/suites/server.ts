/**
 * Ingest throughput of `@usertracking/server`, against a naive hand-written node:http + pg route
 * that does one INSERT per request (what the five apps each wrote by hand).
 *
 * Each server runs in its own child process; autocannon drives it from this process over
 * 127.0.0.1, so the two share the machine's cores but not an event loop. Every case is bounded in
 * time (a warm-up, then a fixed measuring window). After each case the rows actually stored are
 * counted, so a server that answers 200 without storing would show.
 *
 * Cases: the naive route (1 activity per request, run first and last so the two bracket the
 * machine's drift); the handler over the memory store (handler overhead alone); the handler over
 * the Postgres store through `toNodeListener`, batches of 1 and 50. The single-activity case (one
 * activity per POST against the real PostgreSQL server) is the one most real ingest looks like, and
 * gets its own ratio table. `--write-docs` replaces the server section of `docs/benchmarks.md`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import pg from 'pg'
import { memoryStore, type Store } from '@usertracking/core'
import { postgresStore } from '@usertracking/postgres'
import { createActivityHandler, toNodeListener } from '@usertracking/server'
import { writeDocsRequested, writeDocsSection } from '../report/docs-page'
import { describeMachine } from '../report/machine'
import { format, table } from '../report/markdown'

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const WARMUP_SECONDS = 2
const MEASURE_SECONDS = 8
const CONNECTIONS = 16
const POOL_SIZE = 10

/** App 1's payload, without a timestamp so each request stores a new activity at the time it arrives. */
const ACTIVITY = {
  userId: 'abc123',
  activityType: 'resume_generation',
  description: 'Tailored resume for Amazon job',
  tokenUsage: 1420,
  timeTaken: 3.2,
  metadata: { jobTitle: 'Data Engineer', resumeLength: '2 pages' },
}

type Mode = 'naive' | 'memory' | 'postgres'

/**
 * Stands in for the memory store with a fresh one every 200k rows, so a fast run does not fill the
 * benchmark's heap; the handler's work per request is the same.
 */
function recycledMemoryStore(): Store {
  let current = memoryStore()
  return {
    name: 'memory',
    sink: {
      name: 'memory',
      write(batch, options) {
        if (current.size > 200_000) current = memoryStore()
        return current.sink.write(batch, options)
      },
    },
    list: (query) => current.list(query),
    stats: (query) => current.stats(query),
    export: (query) => current.export(query),
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => resolve(body))
    request.on('error', reject)
  })
}

/** The route as an app would write it by hand: parse, check the type, one INSERT, 201. */
function naiveListener(pool: pg.Pool, table: string) {
  return async (request: IncomingMessage, response: ServerResponse) => {
    try {
      const body = JSON.parse(await readBody(request)) as Record<string, unknown>
      if (typeof body.activityType !== 'string') {
        response.writeHead(400).end()
        return
      }
      await pool.query(
        `INSERT INTO ${table} (id, user_id, activity_type, description, timestamp, token_usage, duration_ms, metadata)
         VALUES ($1, $2, $3, $4, now(), $5, $6, $7)`,
        [
          crypto.randomUUID(),
          body.userId ?? null,
          body.activityType,
          body.description ?? null,
          body.tokenUsage ?? null,
          typeof body.timeTaken === 'number' ? body.timeTaken * 1000 : null,
          JSON.stringify(body.metadata ?? {}),
        ],
      )
      response.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}')
    } catch {
      response.writeHead(500).end()
    }
  }
}

/**
 * Child process: serves one mode on 127.0.0.1 and prints the port. The handler trusts the `userId`
 * a request sends (`trustClientUserIds`), as the naive route does, so both do the same work.
 */
async function serve(mode: Mode, schema: string): Promise<void> {
  let listener: (request: IncomingMessage, response: ServerResponse) => void
  if (mode === 'memory') {
    listener = toNodeListener(createActivityHandler({ store: recycledMemoryStore(), trustClientUserIds: true, onError: () => {} }))
  } else {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: POOL_SIZE })
    if (mode === 'naive') {
      listener = (request, response) => void naiveListener(pool, `${schema}.naive_activity`)(request, response)
    } else {
      const store = postgresStore({ client: pool, schema, table: 'activity' })
      await store.migrate()
      listener = toNodeListener(createActivityHandler({ store, trustClientUserIds: true, onError: (error) => console.error(error) }))
    }
  }
  const server = createServer(listener)
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  process.on('SIGTERM', () => process.exit(0))
  process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`)
}

function startChild(mode: Mode, schema: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), 'serve', mode, schema],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  return new Promise((resolve, reject) => {
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /port (\d+)/.exec(output)
      if (match) resolve({ child, port: Number(match[1]) })
    })
    child.on('exit', (code) => reject(new Error(`[usertracking] [bench] The ${mode} server exited with code ${code} before listening.`)))
  })
}

interface CaseResult {
  name: string
  mode: Mode
  batch: number
  requestsPerSecond: number
  activitiesPerSecond: number
  p99Ms: number
  non2xx: number
  errors: number
  stored: number | undefined
  expected: number
}

async function load(url: string, body: string, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: CONNECTIONS,
    duration: seconds,
  })
}

async function runCase(
  name: string,
  mode: Mode,
  path: string,
  batch: number,
  schema: string,
  count: () => Promise<number | undefined>,
): Promise<CaseResult> {
  const { child, port } = await startChild(mode, schema)
  try {
    const body = JSON.stringify(batch === 1 ? ACTIVITY : Array.from({ length: batch }, () => ACTIVITY))
    const url = `http://127.0.0.1:${port}${path}`
    await load(url, body, WARMUP_SECONDS)
    const warm = (await count()) ?? 0
    const result = await load(url, body, MEASURE_SECONDS)
    const after = await count()
    const ok = result['2xx']
    return {
      name,
      mode,
      batch,
      requestsPerSecond: ok / MEASURE_SECONDS,
      activitiesPerSecond: (ok * batch) / MEASURE_SECONDS,
      p99Ms: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
      stored: after === undefined ? undefined : after - warm,
      expected: ok * batch,
    }
  } finally {
    child.kill('SIGTERM')
  }
}

async function main(): Promise<void> {
  const schema = `bench_server_${process.pid}`
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 })
  await pool.query(`CREATE SCHEMA ${schema}`)
  await pool.query(`CREATE TABLE ${schema}.naive_activity (
    id uuid PRIMARY KEY, user_id text, activity_type text NOT NULL, description text,
    timestamp timestamptz NOT NULL, token_usage integer, duration_ms double precision, metadata jsonb,
    received_at timestamptz NOT NULL DEFAULT now())`)
  const countTable = (table: string) => async () => {
    try {
      return Number((await pool.query<{ count: string }>(`SELECT count(*) FROM ${schema}.${table}`)).rows[0]!.count)
    } catch {
      return undefined
    }
  }
  const results: CaseResult[] = []
  try {
    results.push(await runCase('naive node:http + pg, one INSERT per request', 'naive', '/', 1, schema, countTable('naive_activity')))
    for (const batch of [1, 50]) {
      results.push(await runCase('handler + memoryStore', 'memory', '/api/activity', batch, schema, async () => undefined))
    }
    for (const batch of [1, 50]) {
      results.push(await runCase('handler + postgresStore', 'postgres', '/api/activity', batch, schema, countTable('activity')))
    }
    // Run again last: on a shared machine, the two naive runs bracket the drift between cases.
    results.push(await runCase('naive node:http + pg, one INSERT per request (again)', 'naive', '/', 1, schema, countTable('naive_activity')))
  } finally {
    await pool.query(`DROP SCHEMA ${schema} CASCADE`)
    await pool.end()
  }

  const report = serverReport(results, describeMachine())
  console.log(report)
  if (writeDocsRequested()) writeDocsSection('server', report)
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length

/** Every case's row, then the single-activity case against the naive route. */
function serverReport(results: CaseResult[], machine: string): string {
  const naiveRuns = results.filter((result) => result.mode === 'naive')
  const naivePerSecond = mean(naiveRuns.map((result) => result.activitiesPerSecond))
  const naiveP99 = mean(naiveRuns.map((result) => result.p99Ms))
  const all = table(
    [
      { header: 'server' },
      { header: 'activities / request', numeric: true },
      { header: 'requests / s', numeric: true },
      { header: 'activities / s', numeric: true },
      { header: '× naive (activities / s)', numeric: true },
      { header: 'p99 latency (ms)', numeric: true },
      { header: 'non-2xx', numeric: true },
      { header: 'errors', numeric: true },
      { header: 'rows stored / expected', numeric: true },
    ],
    results.map((result) => [
      result.name,
      String(result.batch),
      format(result.requestsPerSecond),
      format(result.activitiesPerSecond),
      `${format(result.activitiesPerSecond / naivePerSecond, 1)}×`,
      String(result.p99Ms),
      String(result.non2xx),
      String(result.errors),
      result.stored === undefined ? 'n/a (memory)' : `${format(result.stored)} / ${format(result.expected)}`,
    ]),
  )
  const single = results.find((result) => result.mode === 'postgres' && result.batch === 1)!
  const singleTable = table(
    [{ header: 'quantity' }, { header: 'naive route (mean of its runs)', numeric: true }, { header: 'handler + postgresStore', numeric: true }, { header: 'handler ÷ naive', numeric: true }, { header: 'target (issue 10)', numeric: true }],
    [
      ['requests / s', format(naivePerSecond), format(single.requestsPerSecond), `${format(single.requestsPerSecond / naivePerSecond, 2)}×`, '≥ 3×'],
      ['p99 latency', `${format(naiveP99, 1)} ms`, `${single.p99Ms} ms`, `${format(single.p99Ms / naiveP99, 2)}×`, '≤ 1×'],
    ],
  )
  return [
    `Measured on ${machine}: autocannon with ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up then ${MEASURE_SECONDS} s measured per case, pg pool of ${POOL_SIZE}, the real PostgreSQL server, everything on 127.0.0.1. Ratios are against the mean of the naive runs (the first case and the last, which bracket the machine's drift).`,
    `### Every case\n\n${all}`,
    `### Single-activity ingest: one activity per POST\n\n\`createActivityHandler\` + \`postgresStore\` through \`toNodeListener\`, against a hand-written node:http + pg route doing one INSERT per request.\n\n${singleTable}`,
  ].join('\n\n')
}

if (process.argv[2] === 'serve') {
  await serve(process.argv[3] as Mode, process.argv[4]!)
} else {
  await main()
}
