/**
 * @usertracking/node, in one run:
 *
 * 1. `track()` with file storage vs memory storage vs none: the cost on the caller's path (the
 *    synchronous call), and the cost per event of the whole pipeline (track, storage write,
 *    delivery to a no-op sink, storage removal) in bursts of 10 — the background work a server pays.
 *    Also `createNodeTracker` inside a request context (context defaults merged into every call).
 *    That row runs AsyncLocalStorage, which stays enabled for the process, so every row is measured
 *    with it on, as in a server that uses request context.
 * 2. Delivered events per second to a real node:http server on 127.0.0.1 (in its own process, so
 *    it does not share this event loop) with keep-alive vs a new connection per request, at batch
 *    sizes 1 (one request per event, as with `waitUntil`) and 50; Node's global fetch (undici,
 *    which also keeps connections alive) for reference.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTracker, httpSink, memoryStorage, type Sink, type Storage } from '@usertracking/core'
import { createNodeTracker, fileStorage, nodeHttpSink, runWithContext } from '@usertracking/node'

const BURST = 10
const BURSTS = 4000
const ROUNDS = 7

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

// ---------------------------------------------------------------- 1. track() cost

interface TrackCost {
  callerNs: number
  pipelineUs: number
}

/** One timed run of `bursts` bursts through a fresh tracker over a fresh storage. */
async function trackRun(makeStorage: () => { storage: Storage | undefined; cleanup: () => void }, bursts: number, node = false): Promise<TrackCost> {
  const { storage, cleanup } = makeStorage()
  const noop: Sink = { name: 'noop', write: async () => ({ type: 'success' }) }
  const options = { sinks: [noop], storage, batchSize: 100, debounceTime: 0 }
  const tracker = node ? createNodeTracker({ ...options, shutdownHooks: false }) : createTracker(options)
  await tracker.flush()
  globalThis.gc?.()
  let callerNs = 0
  const start = process.hrtime.bigint()
  const burstOf = (burst: number) => {
    for (let index = 0; index < BURST; index++) {
      tracker.track({ userId: 'u1', activityType: 'chat_completion', tokenUsage: 1420, metadata: { burst, index, model: 'gpt-4o-mini' } })
    }
  }
  for (let burst = 0; burst < bursts; burst++) {
    const callStart = process.hrtime.bigint()
    // The node tracker's bursts run inside a request context, as they would in a request handler.
    if (node) runWithContext({ sessionId: 's1', requestId: `r${burst}`, context: { ip: '127.0.0.1' } }, () => burstOf(burst))
    else burstOf(burst)
    callerNs += Number(process.hrtime.bigint() - callStart)
    // A server tracks a few events per request, then the event loop moves on.
    await yieldToLoop()
  }
  await tracker.flush(60_000)
  const totalNs = Number(process.hrtime.bigint() - start)
  await tracker.shutdown()
  cleanup()
  return { callerNs: callerNs / (BURST * bursts), pipelineUs: totalNs / 1000 / (BURST * bursts) }
}

function withFileStorage(syncIntervalMs: number) {
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'usertracking-bench-'))
    return { storage: fileStorage({ dir, syncIntervalMs }), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
  }
}

// ---------------------------------------------------------------- 2. delivery throughput

// Plain JavaScript so that the server process starts without a TypeScript loader.
const SERVER_SOURCE = `
const http = require('node:http')
let events = 0
const server = http.createServer((request, response) => {
  const chunks = []
  request.on('data', (chunk) => chunks.push(chunk))
  request.on('end', () => {
    events += JSON.parse(Buffer.concat(chunks).toString('utf8')).activities.length
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
  })
})
server.on('connection', () => process.send({ connection: true }))
server.keepAliveTimeout = 60000
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
`

async function startServer() {
  const child = spawn(process.execPath, ['-e', SERVER_SOURCE], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let connections = 0
  const port = await new Promise<number>((resolve) => {
    child.on('message', (message: { port?: number; connection?: boolean }) => {
      if (message.port) resolve(message.port)
      if (message.connection) connections++
    })
  })
  return {
    url: `http://127.0.0.1:${port}/api/activity`,
    takeConnections() {
      const count = connections
      connections = 0
      return count
    },
    close: () => child.kill(),
  }
}

/** One timed delivery of `events` through a fresh tracker; events per second. */
async function deliverOnce(sink: Sink, batchSize: number, events: number): Promise<number> {
  const tracker = createTracker({ sinks: [sink], batchSize, debounceTime: 0, maxQueueSize: events })
  const start = process.hrtime.bigint()
  for (let index = 0; index < events; index++) {
    tracker.track({ userId: `u${index % 100}`, activityType: 'chat_completion', tokenUsage: 1420, metadata: { index, model: 'gpt-4o-mini' } })
  }
  const settled = await tracker.flush(120_000)
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const { sent } = tracker.stats()
  await tracker.shutdown()
  if (!settled || sent !== events) throw new Error(`Delivery incomplete: ${sent} of ${events}.`)
  return events / seconds
}

// ---------------------------------------------------------------- the table

const format = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

const storages = [
  { name: 'none (memory queue only)', make: () => ({ storage: undefined, cleanup: () => {} }), bursts: BURSTS },
  { name: 'memoryStorage (core)', make: () => ({ storage: memoryStorage(), cleanup: () => {} }), bursts: BURSTS },
  { name: 'fileStorage, fsync every 1 s (default)', make: withFileStorage(1000), bursts: BURSTS },
  // Every burst waits for a disk flush here, so fewer bursts keep the suite short.
  { name: 'fileStorage, fsync every write', make: withFileStorage(0), bursts: BURSTS / 10 },
  { name: 'createNodeTracker: fileStorage + request context', make: withFileStorage(1000), bursts: BURSTS, node: true },
]
// A discarded round first, so that the first configuration measured does not pay for the JIT.
for (const { make, bursts, node } of storages) await trackRun(make, bursts, node)
const costSamples = storages.map(() => [] as TrackCost[])
// Rounds alternate between storages so that a neighbour's load on the machine hits each alike.
for (let round = 0; round < ROUNDS; round++) {
  for (const [index, { make, bursts, node }] of storages.entries()) costSamples[index]!.push(await trackRun(make, bursts, node))
}
const costs = costSamples.map((samples) => ({
  callerNs: median(samples.map((sample) => sample.callerNs)),
  pipelineUs: median(samples.map((sample) => sample.pipelineUs)),
}))
const memory = costs[1]!
const file = costs[2]!

console.log(`### track() cost (${format(BURSTS * BURST)} events in bursts of ${BURST}, median of ${ROUNDS} interleaved rounds)\n`)
console.log('| storage | caller\'s path (ns / track) | vs memory storage | whole pipeline (µs / event) | vs memory storage |')
console.log('| --- | ---: | ---: | ---: | ---: |')
for (const [index, { name }] of storages.entries()) {
  const cost = costs[index]!
  console.log(
    `| ${name} | ${format(cost.callerNs)} | ${format(cost.callerNs / memory.callerNs, 2)}× | ${format(cost.pipelineUs, 2)} | ${format(cost.pipelineUs / memory.pipelineUs, 2)}× |`,
  )
}
const added = (file.callerNs - memory.callerNs) / 1000
console.log(`\nfileStorage adds ${format(added, 3)} µs per track() on the caller's path (target: at most 1 µs).\n`)

const server = await startServer()
const transports: { name: string; sink: () => Sink }[] = [
  { name: 'nodeHttpSink, keep-alive (default)', sink: () => nodeHttpSink({ url: server.url }) },
  { name: 'nodeHttpSink, keepAlive: false', sink: () => nodeHttpSink({ url: server.url, keepAlive: false }) },
  { name: 'httpSink + global fetch (undici)', sink: () => httpSink({ url: server.url }) },
]
const configurations = [
  { batchSize: 1, events: 2000 },
  { batchSize: 50, events: 30_000 },
]
const DELIVERY_ROUNDS = 5
console.log(`### Delivered events per second to a loopback server (median of ${DELIVERY_ROUNDS} interleaved rounds)\n`)
console.log('| transport | batch size | events/s | connections opened per run | vs keepAlive: false |')
console.log('| --- | ---: | ---: | ---: | ---: |')
for (const { batchSize, events } of configurations) {
  const samples = transports.map(() => [] as number[])
  const connections = transports.map(() => 0)
  // Rounds alternate between transports so that a neighbour's load on the machine hits each alike.
  for (let round = 0; round < DELIVERY_ROUNDS; round++) {
    for (const [index, transport] of transports.entries()) {
      server.takeConnections()
      samples[index]!.push(await deliverOnce(transport.sink(), batchSize, events))
      // Let the server's connection reports arrive before counting them.
      await new Promise((resolve) => setTimeout(resolve, 50))
      connections[index] = server.takeConnections()
    }
  }
  const rates = samples.map(median)
  for (const [index, transport] of transports.entries()) {
    console.log(`| ${transport.name} | ${batchSize} | ${format(rates[index]!)} | ${format(connections[index]!)} | ${format(rates[index]! / rates[1]!, 2)}× |`)
  }
}
server.close()
