/**
 * Ingest throughput of `@usertracking/server`, against a naive hand-written node:http + pg route
 * that does one INSERT per request (what the five apps each wrote by hand).
 *
 * Each server runs in its own child process; autocannon drives it from this process over
 * 127.0.0.1, so the two share the machine's cores but not an event loop. Every case is bounded in
 * time (a warm-up, then a fixed measuring window). After each case the rows actually stored are
 * counted, so a server that answers 200 without storing would show.
 *
 * Cases: the naive route (1 activity per request); the handler over the Postgres store at its
 * defaults (group commit, the Node fast path), alternating with the naive route for a few rounds so
 * that the ratio of each round is measured side by side on a machine whose load drifts, and with
 * `prepareStatements: true` in the same rounds (an opt-in: it breaks behind PgBouncer's transaction
 * pooling, see docs/postgres.md); the handler
 * over the Postgres store with `groupCommit: false`, and with batches of 50; the handler over the
 * memory store (handler overhead alone) through the Node fast path and through web `Request` /
 * `Response`, and with batches of 50.
 *
 * Any route that answers after its commit waits for the database's log flush, so with 16
 * connections it cannot exceed 16 / (commit latency) requests/s; the suite measures that latency
 * (a one-row INSERT, in autocommit, one after another) and prints the ceiling beside the results.
 *
 * On Linux it also counts, over each measured window, the CPU time of the server process, of every
 * PostgreSQL process, and of this process (the load generator), from `/proc`, and reads the
 * handler's own metrics for the activities in each store write: where each route's time goes, and
 * how many requests it could serve with every core busy at that cost.
 *
 * `--write-docs` replaces the server section of `docs/benchmarks.md` with the tables.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { cpus } from 'node:os'
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
import { STORY_ACTIVITY as ACTIVITY } from '../story-activity'

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const WARMUP_SECONDS = 2
const MEASURE_SECONDS = 8
const CONNECTIONS = 16
/** The same single-activity pair again with more clients at once: where each route's cost per request, not its latency, sets the pace. */
const MORE_CONNECTIONS = 64
const POOL_SIZE = 10

/** Clock ticks per second of `/proc/<pid>/stat`'s CPU times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** CPU time (user + system) of a process in µs, from `/proc/<pid>/stat`; undefined where there is no `/proc`. */
function processCpuUs(pid: number): number | undefined {
  try {
    // The command name may hold spaces and parentheses: the fields after it start past the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS
  } catch {
    return undefined
  }
}

/** CPU time in µs of every PostgreSQL process on this machine (backends, WAL writer, checkpointer…). */
function databaseCpuUs(): number | undefined {
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return undefined
  }
  let total = 0
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (!readFileSync(`/proc/${entry}/comm`, 'utf8').startsWith('postgres')) continue
    } catch {
      continue
    }
    total += processCpuUs(Number(entry)) ?? 0
  }
  return total
}

/** CPU time so far of the server, the database and this process (the load generator), in µs. */
interface CpuSample {
  server: number | undefined
  database: number | undefined
  loadGenerator: number
}

function sampleCpu(serverPid: number | undefined): CpuSample {
  const own = process.cpuUsage()
  return { server: serverPid === undefined ? undefined : processCpuUs(serverPid), database: databaseCpuUs(), loadGenerator: own.user + own.system }
}

/** The sum and count of the handler's `ingest_write_activities` histogram, or undefined (the naive route has none). */
async function writeSizes(origin: string): Promise<{ sum: number; count: number } | undefined> {
  try {
    const text = await (await fetch(`${origin}/metrics`)).text()
    const sum = /^usertracking_ingest_write_activities_sum (\S+)$/m.exec(text)
    const count = /^usertracking_ingest_write_activities_count (\S+)$/m.exec(text)
    return sum && count ? { sum: Number(sum[1]), count: Number(count[1]) } : undefined
  } catch {
    return undefined
  }
}

type Mode = 'naive' | 'memory' | 'memory-web' | 'postgres' | 'postgres-alone' | 'postgres-prepared'

/** Rounds of naive route / handler + postgresStore / the same with `prepareStatements`, side by side. */
const ROUNDS = 3

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
  if (mode === 'memory' || mode === 'memory-web') {
    const handler = createActivityHandler({ store: recycledMemoryStore(), trustClientUserIds: true, metrics: { authenticate: () => true }, onError: () => {} })
    // A plain function hides the handler's fast path from toNodeListener: every request goes through Request / Response.
    listener = mode === 'memory' ? toNodeListener(handler) : toNodeListener((request, context) => handler(request, context))
  } else {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: POOL_SIZE })
    if (mode === 'naive') {
      listener = (request, response) => void naiveListener(pool, `${schema}.naive_activity`)(request, response)
    } else {
      const store = postgresStore({ client: pool, schema, table: 'activity', prepareStatements: mode === 'postgres-prepared' })
      await store.migrate()
      const groupCommit = mode === 'postgres-alone' ? false : undefined
      listener = toNodeListener(
        createActivityHandler({ store, trustClientUserIds: true, groupCommit, metrics: { authenticate: () => true }, onError: (error) => console.error(error) }),
      )
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
  batch: number
  connections: number
  requestsPerSecond: number
  activitiesPerSecond: number
  p99Ms: number
  non2xx: number
  errors: number
  stored: number | undefined
  expected: number
  /** CPU µs per answered request over the measured window, where `/proc` could be read. */
  cpuPerRequest: { server: number | undefined; database: number | undefined; loadGenerator: number }
  /** Mean activities per store write over the measured window (the handler's metrics), or undefined. */
  activitiesPerWrite: number | undefined
}

async function load(url: string, body: string, seconds: number, connections: number): Promise<autocannon.Result> {
  return autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
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
  connections = CONNECTIONS,
): Promise<CaseResult> {
  const { child, port } = await startChild(mode, schema)
  try {
    const body = JSON.stringify(batch === 1 ? ACTIVITY : Array.from({ length: batch }, () => ACTIVITY))
    const origin = `http://127.0.0.1:${port}`
    const url = `${origin}${path}`
    await load(url, body, WARMUP_SECONDS, connections)
    const warm = (await count()) ?? 0
    const sizesBefore = await writeSizes(origin)
    const cpuBefore = sampleCpu(child.pid)
    const result = await load(url, body, MEASURE_SECONDS, connections)
    const cpuAfter = sampleCpu(child.pid)
    const sizesAfter = await writeSizes(origin)
    const after = await count()
    const ok = result['2xx']
    const perRequest = (before: number | undefined, after: number | undefined) =>
      before === undefined || after === undefined || ok === 0 ? undefined : (after - before) / ok
    const writes = sizesBefore && sizesAfter ? sizesAfter.count - sizesBefore.count : 0
    return {
      name: connections === CONNECTIONS ? name : `${name}, ${connections} connections`,
      batch,
      connections,
      requestsPerSecond: ok / MEASURE_SECONDS,
      activitiesPerSecond: (ok * batch) / MEASURE_SECONDS,
      p99Ms: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
      stored: after === undefined ? undefined : after - warm,
      expected: ok * batch,
      cpuPerRequest: {
        server: perRequest(cpuBefore.server, cpuAfter.server),
        // The memory store never reaches the database: its share is whatever else PostgreSQL did.
        database: perRequest(cpuBefore.database, cpuAfter.database),
        loadGenerator: perRequest(cpuBefore.loadGenerator, cpuAfter.loadGenerator)!,
      },
      activitiesPerWrite: writes > 0 ? (sizesAfter!.sum - sizesBefore!.sum) / writes : undefined,
    }
  } finally {
    child.kill('SIGTERM')
  }
}

/** Median latency of a one-row INSERT committed on its own, in ms: the floor of any answer given after a commit. */
async function commitLatencyMs(pool: pg.Pool, table: string): Promise<number> {
  const samples: number[] = []
  for (let index = 0; index < 200; index++) {
    const started = performance.now()
    await pool.query(`INSERT INTO ${table} (id, activity_type, timestamp) VALUES ($1, 'probe', now())`, [crypto.randomUUID()])
    samples.push(performance.now() - started)
  }
  return samples.sort((a, b) => a - b)[samples.length >> 1]!
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

async function main(): Promise<void> {
  const schema = `bench_server_${process.pid}`
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 })
  await pool.query(`CREATE SCHEMA ${schema}`)
  await pool.query(`CREATE TABLE ${schema}.naive_activity (
    id uuid PRIMARY KEY, user_id text, activity_type text NOT NULL, description text,
    timestamp timestamptz NOT NULL, token_usage integer, duration_ms double precision, metadata jsonb,
    received_at timestamptz NOT NULL DEFAULT now())`)
  await pool.query(`CREATE TABLE ${schema}.probe (LIKE ${schema}.naive_activity INCLUDING ALL)`)
  const countTable = (table: string) => async () => {
    try {
      return Number((await pool.query<{ count: string }>(`SELECT count(*) FROM ${schema}.${table}`)).rows[0]!.count)
    } catch {
      return undefined
    }
  }
  const naive = (connections = CONNECTIONS) =>
    runCase('naive node:http + pg, one INSERT per request', 'naive', '/', 1, schema, countTable('naive_activity'), connections)
  const handler = (connections = CONNECTIONS) =>
    runCase('handler + postgresStore (defaults)', 'postgres', '/api/activity', 1, schema, countTable('activity'), connections)
  const results: CaseResult[] = []
  const rounds: Round[] = []
  const loaded: { naive: CaseResult; handler: CaseResult }[] = []
  const latencies: number[] = []
  try {
    latencies.push(await commitLatencyMs(pool, `${schema}.probe`))
    for (let round = 0; round < ROUNDS; round++) {
      const round = {
        naive: await naive(),
        handler: await handler(),
        prepared: await runCase('handler + postgresStore, prepareStatements: true', 'postgres-prepared', '/api/activity', 1, schema, countTable('activity')),
      }
      rounds.push(round)
      results.push(round.naive, round.handler, round.prepared)
    }
    for (let round = 0; round < ROUNDS; round++) {
      const pair = {
        naive: await naive(MORE_CONNECTIONS),
        handler: await handler(MORE_CONNECTIONS),
      }
      loaded.push(pair)
      results.push(pair.naive, pair.handler)
    }
    results.push(await runCase('handler + postgresStore, groupCommit: false', 'postgres-alone', '/api/activity', 1, schema, countTable('activity')))
    results.push(await runCase('handler + postgresStore (defaults)', 'postgres', '/api/activity', 50, schema, countTable('activity')))
    results.push(await runCase('handler + memoryStore, Node fast path', 'memory', '/api/activity', 1, schema, async () => undefined))
    results.push(await runCase('handler + memoryStore, web Request / Response', 'memory-web', '/api/activity', 1, schema, async () => undefined))
    results.push(await runCase('handler + memoryStore, Node fast path', 'memory', '/api/activity', 50, schema, async () => undefined))
    latencies.push(await commitLatencyMs(pool, `${schema}.probe`))
  } finally {
    await pool.query(`DROP SCHEMA ${schema} CASCADE`)
    await pool.end()
  }

  const report = serverReport(results, rounds, loaded, latencies, describeMachine())
  console.log(report)
  if (writeDocsRequested()) writeDocsSection('server', report)
}

/** Every case, the database's commit ceiling, then the single-activity rounds side by side. */
interface Round {
  naive: CaseResult
  handler: CaseResult
  prepared: CaseResult
}

const PAIR_HEADERS = ['round', 'naive requests / s', 'naive p99 (ms)', 'handler requests / s', 'handler p99 (ms)', '× naive', 'p99 no worse']

/** One round of the naive route against the handler: the cells under {@link PAIR_HEADERS}. */
function pairCells(pair: { naive: CaseResult; handler: CaseResult }, index: number): string[] {
  return [
    String(index + 1),
    format(pair.naive.requestsPerSecond),
    String(pair.naive.p99Ms),
    format(pair.handler.requestsPerSecond),
    String(pair.handler.p99Ms),
    `${format(pair.handler.requestsPerSecond / pair.naive.requestsPerSecond, 2)}×`,
    pair.handler.p99Ms <= pair.naive.p99Ms ? 'yes' : 'no',
  ]
}

function serverReport(
  results: CaseResult[],
  rounds: Round[],
  loaded: { naive: CaseResult; handler: CaseResult }[],
  latencies: number[],
  machine: string,
): string {
  const naiveRuns = results.filter((result) => result.name.startsWith('naive') && result.connections === CONNECTIONS)
  const naivePerSecond = naiveRuns.reduce((sum, result) => sum + result.activitiesPerSecond, 0) / naiveRuns.length
  const all = table(
    [
      { header: 'server' },
      ...['activities / request', 'requests / s', 'activities / s', '× naive (activities / s)', 'p99 latency (ms)', 'non-2xx', 'errors', 'rows stored / expected'].map((header) => ({ header, numeric: true })),
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
  const cores = cpus().length
  const cpuKnown = results.some((result) => result.cpuPerRequest.server !== undefined)
  /** CPU µs per request of the server, the database (when the case uses it) and the load generator together. */
  const cpuTotal = (result: CaseResult) => {
    const { server, database, loadGenerator } = result.cpuPerRequest
    if (server === undefined) return undefined
    return server + loadGenerator + (result.stored === undefined ? 0 : (database ?? 0))
  }
  const micro = (value: number | undefined) => (value === undefined ? 'n/a' : format(value))
  const cpuTable = table(
    [
      { header: 'server' },
      ...[
        'activities / request',
        'activities / store write',
        'server µs / request',
        'database µs / request',
        'load generator µs / request',
        'all three',
        `activities / s with ${cores} cores busy at that cost`,
        '× naive (activities / s)',
      ].map((header) => ({ header, numeric: true })),
    ],
    results.map((result) => {
      const total = cpuTotal(result)
      const ceiling = total === undefined ? undefined : ((cores * 1e6) / total) * result.batch
      return [
        result.name,
        String(result.batch),
        result.activitiesPerWrite === undefined ? (result.name.startsWith('naive') ? '1' : 'n/a') : format(result.activitiesPerWrite, 1),
        micro(result.cpuPerRequest.server),
        result.stored === undefined ? 'not used' : micro(result.cpuPerRequest.database),
        micro(result.cpuPerRequest.loadGenerator),
        micro(total),
        ceiling === undefined ? 'n/a' : format(ceiling),
        ceiling === undefined ? 'n/a' : `${format(ceiling / naivePerSecond, 1)}×`,
      ]
    }),
  )
  const handlerCeilings = rounds.map((round) => cpuTotal(round.handler)).filter((total): total is number => total !== undefined).map((total) => (cores * 1e6) / total)
  const ceilingSentence =
    handlerCeilings.length > 0
      ? ` At the CPU cost per request measured in these rounds, with both cores busy and nothing else waiting, the handler could serve ${format(median(handlerCeilings))} requests / s (median of the rounds), ${format(median(handlerCeilings) / naivePerSecond, 2)}× the naive route's mean; see "Where the CPU goes".`
      : ''
  const ceilings = latencies.map((ms) => format(CONNECTIONS / (ms / 1000)))
  const ratios = rounds.map((round) => round.handler.requestsPerSecond / round.naive.requestsPerSecond)
  const preparedRatios = rounds.map((round) => round.prepared.requestsPerSecond / round.naive.requestsPerSecond)
  const sideBySide = table(
    [...PAIR_HEADERS, 'prepareStatements requests / s', 'its p99 (ms)', 'its × naive'].map((header) => ({ header, numeric: true })),
    rounds.map((round, index) => [
      ...pairCells(round, index),
      format(round.prepared.requestsPerSecond),
      String(round.prepared.p99Ms),
      `${format(preparedRatios[index]!, 2)}×`,
    ]),
  )
  const loadedRatios = loaded.map((pair) => pair.handler.requestsPerSecond / pair.naive.requestsPerSecond)
  const underLoad = table(
    PAIR_HEADERS.map((header) => ({ header, numeric: true })),
    loaded.map((pair, index) => pairCells(pair, index)),
  )
  return [
    `Measured on ${machine}: autocannon with ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up then ${MEASURE_SECONDS} s measured per case, pg pool of ${POOL_SIZE}, the real PostgreSQL server, everything on 127.0.0.1. The handler runs at its defaults unless the name says otherwise; ratios are against the mean of the ${naiveRuns.length} naive runs.`,
    `### Every case\n\n${all}`,
    `Commit latency of this database (one-row INSERT, median of 200, before and after the cases): ${latencies.map((ms) => `${format(ms, 2)} ms`).join(', ')}. A route that answers after its commit cannot pass ${CONNECTIONS} / latency with ${CONNECTIONS} connections: ${ceilings.join(', ')} requests / s at those latencies.`,
    ...(cpuKnown
      ? [
          `### Where the CPU goes\n\nCPU time over each measured window, per answered request, from \`/proc\`: the server process, every PostgreSQL process (backends, WAL writer, checkpointer), and the load generator (autocannon, in the benchmark's own process). Activities per store write are the handler's own \`ingest_write_activities\` metric. The last two columns are what the case could serve if its cost per request stayed the same with all ${cores} cores busy: a bound, not a prediction (the load generator's share included, as it runs on the same cores).\n\n${cpuTable}`,
        ]
      : []),
    `### Single-activity ingest: one activity per POST, side by side\n\n\`createActivityHandler\` + \`postgresStore\` through \`toNodeListener\` against the hand-written node:http + pg route doing one INSERT per request, alternating round by round, then the handler with \`prepareStatements: true\` (opt-in: see docs/postgres.md). Issue 10's target: ≥ 3× the naive route, p99 no worse.\n\n${sideBySide}\n\nMedian ratio ${format(median(ratios), 2)}× at the defaults (${median(ratios) >= 3 ? 'target met' : 'target not met'}), ${format(median(preparedRatios), 2)}× with \`prepareStatements\`.${ceilingSentence}`,
    `### The same with ${MORE_CONNECTIONS} connections\n\nThe two routes side by side again, ${MORE_CONNECTIONS} clients at once, the handler at its defaults. With ${CONNECTIONS}, waiting rather than work holds the handler back: each request waits for the commit of its group, and a group gathers only the few requests that arrive meanwhile. With more clients, what each route costs per request sets the pace, and group commit shares each statement and commit among more requests.\n\n${underLoad}\n\nMedian ratio ${format(median(loadedRatios), 2)}×.`,
  ].join('\n\n')
}

if (process.argv[2] === 'serve') {
  await serve(process.argv[3] as Mode, process.argv[4]!)
} else {
  await main()
}
