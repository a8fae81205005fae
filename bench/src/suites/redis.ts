/**
 * Batched ingest through `createActivityHandler` into PostgreSQL, straight into the store
 * ("direct") against through the Redis buffer (`ingest: { sink: redisStreamSink(...) }` with a
 * `createStreamWorker` draining it): requests / s and p99 latency as fast as each goes; p99 of a
 * fixed load (half the direct rate) while the database stalls for 5 s; and how fast the worker
 * drains a backlog built during a stall, against the direct path's write rate. Everything at its
 * defaults (handler, sink, worker: batches of 500, 2 in flight).
 *
 * Processes: this one drives the load (autocannon, and an open-loop steady load of its own) and
 * counts rows; one serves the handler; buffered, one runs the worker; one is a TCP proxy between
 * the store's pools and PostgreSQL that holds every byte while told to stall. A third case, the
 * handler over the memory store under the same steady load, shows the latency floor the machine
 * itself sets. All on 127.0.0.1, each
 * phase bounded in time.
 *
 * Last, the live bus: one activity at a time ingested by one instance, timed until another
 * instance's SSE stream sends it.
 *
 * Targets (issue 14): buffered p99 during the stall < 50 ms; drain rate ≥ 80 % of the direct write
 * rate; the bus delivers to another instance's streams within 100 ms on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, createServer as createTcpServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { Redis } from 'ioredis'
import pg from 'pg'
import { memoryStore } from '@usertracking/core'
import { postgresStore } from '@usertracking/postgres'
import { createStreamWorker, redisLiveBus, redisStreamSink } from '@usertracking/redis'
import { createActivityHandler, toNodeListener } from '@usertracking/server'
import { STORY_ACTIVITY as ACTIVITY } from '../story-activity'

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const CONNECTIONS = 16
const BATCH = 50
const WARMUP_SECONDS = 2
const MEASURE_SECONDS = 8
/** The stall phase: load for this long before the stall, then the stall, then this long after it (requests held by the stall complete). */
const BEFORE_STALL_MS = 1000
const STALL_MS = 5000
const AFTER_STALL_MS = 2000
/** Buffered: seconds of load into the buffer while the database stalls, to build the backlog whose drain is timed. */
const DRAIN_FILL_SECONDS = 5
const DRAIN_LIMIT_MS = 120_000
/** Activities timed across the live bus, one at a time. */
const LIVE_SAMPLES = 200

/** `memory`: the handler over the memory store, no database at all: the floor this machine sets for the latencies. */
type Mode = 'direct' | 'buffered' | 'memory'

// ---------------------------------------------------------------- child: the stalling proxy

/** Child process: a TCP proxy to PostgreSQL; `stall` / `resume` on stdin hold and release every byte. */
async function proxy(): Promise<void> {
  const database = new URL(DATABASE_URL)
  let stalled = false
  const held: (() => void)[] = []
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => (stalled ? held.push(() => to.write(chunk)) : to.write(chunk)))
    from.on('close', () => to.destroy())
    from.on('error', () => to.destroy())
  }
  const server = createTcpServer((client) => {
    const upstream = connect(Number(database.port || 5432), database.hostname)
    forward(client, upstream)
    forward(upstream, client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'stall') stalled = true
    if (line === 'resume') {
      stalled = false
      for (const send of held.splice(0)) send()
    }
    process.stdout.write(`${line}ed\n`)
  })
  process.stdin.on('end', () => process.exit(0))
  process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`)
}

// ---------------------------------------------------------------- child: the server instance

/** Child process: the handler over the Postgres store (through the proxy), ingesting into it or into the Redis buffer; or over the memory store. */
async function serve(mode: Mode, proxyPort: number, schema: string, keyPrefix: string): Promise<void> {
  const onError = () => {}
  let listener: (request: IncomingMessage, response: ServerResponse) => void
  if (mode === 'memory') {
    listener = toNodeListener(createActivityHandler({ store: memoryStore(), trustClientUserIds: true, onError }))
  } else {
    const store = postgresStore({ client: new pg.Pool({ connectionString: proxiedDatabaseUrl(proxyPort), max: 10 }), schema })
    if (mode === 'direct') {
      listener = toNodeListener(createActivityHandler({ store, trustClientUserIds: true, onError }))
    } else {
      const client = new Redis(REDIS_URL)
      client.on('error', () => {})
      const sink = redisStreamSink({ client, keyPrefix })
      listener = toNodeListener(createActivityHandler({ store, ingest: { sink }, trustClientUserIds: true, onError }))
    }
  }
  const server = createServer(listener)
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  process.stdin.on('end', () => process.exit(0))
  process.stdin.resume()
  process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`)
}

/** Child process: the handler over a memory store that cannot push, sharing live activities through the Redis bus; prints its port once subscribed. */
async function serveLive(): Promise<void> {
  const { subscribe: _subscribe, ...store } = memoryStore()
  const client = new Redis(REDIS_URL)
  client.on('error', () => {})
  const bus = redisLiveBus({ client, keyPrefix: `usertracking-bench-${process.ppid}:` })
  await bus.ready
  const handler = createActivityHandler({ store, live: { bus }, authenticate: () => ({ userId: 'bench', admin: true }), onError: () => {} })
  const server = createServer(toNodeListener(handler))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  process.stdin.on('end', () => process.exit(0))
  process.stdin.resume()
  process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`)
}

/** Child process: the worker draining the buffer into PostgreSQL (through the proxy), in a process of its own as a deployment runs it. */
async function work(proxyPort: number, schema: string, keyPrefix: string): Promise<void> {
  const store = postgresStore({ client: new pg.Pool({ connectionString: proxiedDatabaseUrl(proxyPort), max: 4 }), schema })
  const client = new Redis(REDIS_URL)
  client.on('error', () => {})
  const worker = createStreamWorker({ client, keyPrefix, store, logger: { debug() {}, warn() {}, error: (message) => console.error(message) } })
  await worker.started
  process.stdin.on('end', () => process.exit(0))
  process.stdin.resume()
  process.stdout.write('port 0\n')
}

function proxiedDatabaseUrl(proxyPort: number): string {
  const url = new URL(DATABASE_URL)
  url.hostname = '127.0.0.1'
  url.port = String(proxyPort)
  return url.toString()
}

// ---------------------------------------------------------------- the driver

interface Child {
  child: ChildProcess
  port: number
  /** Sends a line and waits for its echo (the proxy's `stalled` / `resumed`). */
  say(line: string): Promise<void>
}

function startChild(args: string[]): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout! })
  const waiting = new Map<string, () => void>()
  return new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const port = /^port (\d+)$/.exec(line)
      if (port) {
        resolve({
          child,
          port: Number(port[1]),
          say: (text) =>
            new Promise<void>((done) => {
              waiting.set(`${text}ed`, done)
              child.stdin!.write(`${text}\n`)
            }),
        })
      }
      waiting.get(line)?.()
    })
    child.on('exit', (code) => reject(new Error(`[usertracking] [bench] ${args[0]} exited with code ${code} before listening.`)))
  })
}

function stop(child: Child): void {
  child.child.stdin!.end()
  child.child.kill('SIGTERM')
}

interface Sample {
  /** When the request was sent, in ms since the epoch. */
  sentAt: number
  latencyMs: number
  status: number
}

interface LoadRun {
  /** autocannon's result; none for a steady load. */
  result?: autocannon.Result
  samples: Sample[]
  /** Activities the handler answered as accepted (`accepted` of each 2xx body): what a client may forget. */
  accepted: number
}

/** Runs autocannon for `seconds`, as fast as the server answers, keeping each response's send time, latency and status. */
async function load(port: number, seconds: number): Promise<LoadRun> {
  const samples: Sample[] = []
  let accepted = 0
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: '/api/activity',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(Array.from({ length: BATCH }, () => ACTIVITY)),
        onResponse(status: number, body: string) {
          if (status < 300) accepted += (JSON.parse(body) as { accepted: number }).accepted
        },
      },
    ],
    setupClient(client) {
      client.on('response', (status: number, _bytes: number, latencyMs: number) => {
        samples.push({ sentAt: Date.now() - latencyMs, latencyMs, status })
      })
    },
  })
  return { result, samples, accepted }
}

/**
 * Sends `rate` requests / s for `seconds`, each at its own time whether or not earlier ones were
 * answered (an open loop: a stalled server cannot slow the load down and hide its own latency, as a
 * closed loop like autocannon's would; and autocannon's own rate limit sends each second's
 * requests in one burst).
 */
async function steadyLoad(port: number, seconds: number, rate: number): Promise<LoadRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 })
  const body = JSON.stringify(Array.from({ length: BATCH }, () => ACTIVITY))
  const samples: Sample[] = []
  let accepted = 0
  const send = () =>
    new Promise<void>((resolve) => {
      const sentAt = Date.now()
      const started = performance.now()
      const request = httpRequest({ host: '127.0.0.1', port, path: '/api/activity', method: 'POST', agent, headers: { 'content-type': 'application/json' }, timeout: 30_000 }, (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (text += chunk))
        response.on('end', () => {
          const status = response.statusCode ?? 0
          samples.push({ sentAt, latencyMs: performance.now() - started, status })
          if (status < 300) accepted += (JSON.parse(text) as { accepted: number }).accepted
          resolve()
        })
      })
      request.on('error', () => {
        samples.push({ sentAt, latencyMs: performance.now() - started, status: 0 })
        resolve()
      })
      request.end(body)
    })
  const started = performance.now()
  const total = Math.round(seconds * rate)
  const inFlight: Promise<void>[] = []
  for (let index = 0; index < total; index++) {
    const due = started + (index * 1000) / rate
    const wait = due - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    inFlight.push(send())
  }
  await Promise.all(inFlight)
  agent.destroy()
  return { samples, accepted }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

async function until(check: () => Promise<boolean>, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs
  while (!(await check())) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return true
}

const CASE_NAMES: Record<Mode, string> = {
  direct: 'direct into postgresStore',
  buffered: 'through the Redis buffer (redisStreamSink; createStreamWorker in its own process)',
  memory: 'handler over memoryStore (no database: the floor of this machine)',
}

interface CaseResult {
  mode: Mode
  requestsPerSecond: number
  activitiesPerSecond: number
  p99Ms: number
  stallRate: number
  /** Requests in flight at some moment of the stall. */
  stallRequests: number
  stallP99Ms: number
  stallNon2xx: number
  /** Buffered only: the backlog built while the database stalled, and how fast the worker wrote it once it answered. */
  drain?: { backlog: number; perSecond: number }
  stored: number
  accepted: number
}

/**
 * One mode, three phases: as fast as it goes (requests / s, p99); a fixed load of `stallRate`
 * requests / s across a 5 s database stall (p99 of the requests sent during it); buffered only,
 * a backlog built while the database stalls, then timed as the worker drains it with no load.
 */
async function runCase(mode: Mode, proxyChild: Child, schema: string, count: () => Promise<number>, stallRate: number | undefined): Promise<CaseResult> {
  const keyPrefix = `usertracking-bench-${process.pid}-${mode}:`
  const server = await startChild(['serve', mode, String(proxyChild.port), schema, keyPrefix])
  const worker = mode === 'buffered' ? await startChild(['work', String(proxyChild.port), schema, keyPrefix]) : undefined
  let accepted = 0
  const settled = () => until(async () => (await count()) >= accepted, DRAIN_LIMIT_MS)
  try {
    let measured: LoadRun | undefined
    if (mode !== 'memory') {
      accepted += (await load(server.port, WARMUP_SECONDS)).accepted
      measured = await load(server.port, MEASURE_SECONDS)
      accepted += measured.accepted
      // The buffered worker catches up before the next phase, so the phases do not colour each other.
      await settled()
    }
    const ok = measured?.result?.['2xx'] ?? 0
    const rate = stallRate ?? Math.max(1, Math.round(ok / MEASURE_SECONDS / 2))
    const stallLoad = steadyLoad(server.port, (BEFORE_STALL_MS + STALL_MS + AFTER_STALL_MS) / 1000, rate)
    await new Promise((resolve) => setTimeout(resolve, BEFORE_STALL_MS))
    await proxyChild.say('stall')
    const stalledAt = Date.now()
    await new Promise((resolve) => setTimeout(resolve, STALL_MS))
    await proxyChild.say('resume')
    const resumedAt = Date.now()
    const stalled = await stallLoad
    accepted += stalled.accepted
    // In flight at some moment of the stall: sent before it ended, answered after it began.
    const during = stalled.samples.filter((sample) => sample.sentAt < resumedAt && sample.sentAt + sample.latencyMs > stalledAt)
    if (mode !== 'memory') await settled()

    let drain: CaseResult['drain']
    if (mode === 'buffered') {
      await proxyChild.say('stall')
      const filled = await load(server.port, DRAIN_FILL_SECONDS)
      accepted += filled.accepted
      const before = await count()
      await proxyChild.say('resume')
      const started = Date.now()
      await settled()
      drain = { backlog: accepted - before, perSecond: (accepted - before) / ((Date.now() - started) / 1000) }
    }
    return {
      mode,
      requestsPerSecond: ok / MEASURE_SECONDS,
      activitiesPerSecond: (ok * BATCH) / MEASURE_SECONDS,
      p99Ms: measured?.result?.latency.p99 ?? Number.NaN,
      stallRate: rate,
      stallRequests: during.length,
      stallP99Ms: percentile(during.map((sample) => sample.latencyMs), 99),
      stallNon2xx: during.filter((sample) => sample.status >= 300).length,
      drain,
      stored: mode === 'memory' ? accepted : await count(),
      accepted,
    }
  } finally {
    stop(server)
    if (worker) stop(worker)
    const client = new Redis(REDIS_URL)
    for (const key of await client.keys(`${keyPrefix}*`)) await client.del(key)
    client.disconnect()
  }
}

/**
 * The live bus: one activity at a time posted to instance B, timed until instance A's SSE stream
 * sends it (each process its own; A learns of it only through Redis pub/sub).
 */
async function liveLatency(): Promise<number[]> {
  const [a, b] = await Promise.all([startChild(['live']), startChild(['live'])])
  const controller = new AbortController()
  try {
    const response = await fetch(`http://127.0.0.1:${a.port}/api/activities/stream`, { signal: controller.signal })
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    const sentAt = new Map<string, number>()
    const latencies: number[] = []
    let waiting: (() => void) | undefined
    void (async () => {
      let buffer = ''
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: '' }))
        if (done) return
        buffer += value
        for (const match of buffer.matchAll(/^data: (\{.*\})$/gm)) {
          const id = (JSON.parse(match[1]!) as { id: string }).id
          const started = sentAt.get(id)
          if (started !== undefined) latencies.push(performance.now() - started)
          waiting?.()
        }
        buffer = buffer.slice(buffer.lastIndexOf('\n') + 1)
      }
    })()
    for (let index = 0; index < LIVE_SAMPLES; index++) {
      const id = crypto.randomUUID()
      const arrived = new Promise<void>((resolve) => (waiting = resolve))
      sentAt.set(id, performance.now())
      await fetch(`http://127.0.0.1:${b.port}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, activityType: 'page_view' }) })
      await Promise.race([arrived, new Promise((resolve) => setTimeout(resolve, 2000))])
    }
    return latencies
  } finally {
    controller.abort()
    stop(a)
    stop(b)
  }
}

async function main(): Promise<void> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 })
  const proxyChild = await startChild(['proxy'])
  const results: CaseResult[] = []
  try {
    for (const mode of ['direct', 'buffered', 'memory'] as const) {
      const schema = `bench_redis_${process.pid}_${mode}`
      await postgresStore({ client: pool, schema }).migrate()
      try {
        const count = async () => Number((await pool.query<{ count: string }>(`SELECT count(*) FROM ${schema}.user_activities`)).rows[0]!.count)
        // The stall's load is the same for all: half the rate the direct path sustained.
        results.push(await runCase(mode, proxyChild, schema, count, results[0]?.stallRate))
      } finally {
        await pool.query(`DROP SCHEMA ${schema} CASCADE`)
      }
    }
  } finally {
    stop(proxyChild)
    await pool.end()
  }
  const live = await liveLatency()

  const [direct, buffered, memory] = results as [CaseResult, CaseResult, CaseResult]
  console.log(
    `${CONNECTIONS} connections, ${BATCH} activities per request. Throughput: ${WARMUP_SECONDS} s warm-up, then ${MEASURE_SECONDS} s as fast as it goes. Stall: a steady ${direct.stallRate} requests / s (half the direct rate, open loop) for ${BEFORE_STALL_MS / 1000} s, through a ${STALL_MS / 1000} s database stall (a TCP proxy holding every byte) and ${AFTER_STALL_MS / 1000} s after; p99 of the requests in flight during the stall. Rows stored can exceed those counted as accepted: requests cut off by the end of a timed phase were stored but not counted. Drain: ${DRAIN_FILL_SECONDS} s of load into the buffer while the database stalls, then the worker alone. Handler, sink (maxLength 100000) and worker (batches of 500, 2 in flight) at their defaults, the worker in a process of its own; PostgreSQL pool of 10 through the proxy; Redis ${REDIS_URL}; node ${process.version}; one run.\n`,
  )
  console.log('| ingest | requests / s | activities / s | p99 (ms) | requests in flight during the stall | their p99 (ms) | their non-2xx | rows stored / accepted |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const result of results) {
    console.log(
      `| ${CASE_NAMES[result.mode]} | ${result.mode === 'memory' ? '–' : result.requestsPerSecond.toFixed(0)} | ${result.mode === 'memory' ? '–' : result.activitiesPerSecond.toFixed(0)} | ${result.mode === 'memory' ? '–' : result.p99Ms} | ${result.stallRequests} | ${result.stallP99Ms.toFixed(0)} | ${result.stallNon2xx} | ${result.mode === 'memory' ? '–' : `${result.stored} / ${result.accepted}`} |`,
    )
  }
  const drain = buffered.drain!
  const drainRatio = drain.perSecond / direct.activitiesPerSecond
  console.log('\n| measure | value | target |')
  console.log('| --- | ---: | --- |')
  console.log(`| buffered ÷ direct, requests / s | ${(buffered.requestsPerSecond / direct.requestsPerSecond).toFixed(2)}× | |`)
  console.log(
    `| buffered p99 during the stall | ${buffered.stallP99Ms.toFixed(0)} ms (direct: ${direct.stallP99Ms.toFixed(0)} ms; no database at all: ${memory.stallP99Ms.toFixed(0)} ms) | < 50 ms ${buffered.stallP99Ms < 50 ? '✓' : '✗'} |`,
  )
  console.log(
    `| live bus: ingest on one instance → its SSE event on another (${live.length} of ${LIVE_SAMPLES} arrived) | p50 ${percentile(live, 50).toFixed(1)} ms, p99 ${percentile(live, 99).toFixed(1)} ms | < 100 ms ${percentile(live, 99) < 100 ? '✓' : '✗'} |`,
  )
  console.log(
    `| worker drain rate ÷ direct write rate | ${drain.perSecond.toFixed(0)} ÷ ${direct.activitiesPerSecond.toFixed(0)} activities / s = ${(drainRatio * 100).toFixed(0)} % (a backlog of ${drain.backlog}) | ≥ 80 % ${drainRatio >= 0.8 ? '✓' : '✗'} |`,
  )
}

if (process.argv[2] === 'proxy') await proxy()
else if (process.argv[2] === 'live') await serveLive()
else if (process.argv[2] === 'work') await work(Number(process.argv[3]), process.argv[4]!, process.argv[5]!)
else if (process.argv[2] === 'serve') await serve(process.argv[3] as Mode, Number(process.argv[4]), process.argv[5]!, process.argv[6]!)
else await main()
