/**
 * The core tracker against posthog-node and @segment/analytics-node, in one run:
 *
 * 1. `track()` cost per call, and `withActivity` overhead over the bare function (sync and async).
 * 2. A burst of 100k events to a real node:http server on 127.0.0.1 that parses every batch:
 *    delivered events per second, events lost, peak RSS growth and the worst event-loop delay
 *    while delivering. Each SDK runs in its own child process (so heaps and event loops are not
 *    shared); the server runs here and counts distinct events.
 */
import { spawn } from 'node:child_process'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { createTracker, httpSink, withActivity, type Sink } from '@usertracking/core'

const BURST = 100_000
const DELIVERY_TIMEOUT_MS = 120_000

interface BurstResult {
  perCallUs: number
  deliveryMs: number
  rssGrowthMb: number
  maxLoopDelayMs: number
  timedOut: boolean
}

type Scenario = { name: string; sdk: 'usertracking' | 'posthog' | 'segment'; tuned: boolean; note: string }

const scenarios: Scenario[] = [
  { name: 'usertracking (defaults, maxQueueSize 100k)', sdk: 'usertracking', tuned: false, note: 'batchSize 100' },
  { name: 'usertracking (batchSize 1000)', sdk: 'usertracking', tuned: true, note: 'batchSize 1000' },
  { name: 'posthog-node (defaults)', sdk: 'posthog', tuned: false, note: 'flushAt 20, maxQueueSize 1000' },
  { name: 'posthog-node (tuned)', sdk: 'posthog', tuned: true, note: 'flushAt 1000, maxBatchSize 1000, maxQueueSize 100k' },
  { name: '@segment/analytics-node (defaults)', sdk: 'segment', tuned: false, note: 'flushAt 15' },
  { name: '@segment/analytics-node (tuned)', sdk: 'segment', tuned: true, note: 'flushAt 1000 (its largest batch is 500 KB)' },
]

// ---------------------------------------------------------------- child: one SDK, one burst

async function runBurst(sdk: Scenario['sdk'], tuned: boolean, host: string): Promise<BurstResult> {
  let track: (index: number) => void
  let drain: () => Promise<unknown>
  if (sdk === 'usertracking') {
    const tracker = createTracker({
      sinks: [httpSink({ url: `${host}/api/activity` })],
      maxQueueSize: BURST,
      batchSize: tuned ? 1000 : 100,
    })
    track = (index) => {
      tracker.track({ userId: `user-${index % 1000}`, activityType: 'job_match', metadata: { i: index, jobTitle: 'Data Engineer' } })
    }
    drain = () => tracker.flush(DELIVERY_TIMEOUT_MS)
  } else if (sdk === 'posthog') {
    const { PostHog } = await import('posthog-node')
    const client = new PostHog('phc_bench', {
      host,
      disableCompression: true,
      ...(tuned ? { flushAt: 1000, maxBatchSize: 1000, maxQueueSize: BURST } : {}),
    })
    track = (index) => client.capture({ distinctId: `user-${index % 1000}`, event: 'job_match', properties: { i: index, jobTitle: 'Data Engineer' } })
    drain = () => client.shutdown(DELIVERY_TIMEOUT_MS)
  } else {
    const { Analytics } = await import('@segment/analytics-node')
    const analytics = new Analytics({ writeKey: 'bench', host, ...(tuned ? { flushAt: 1000 } : {}) })
    analytics.on('error', () => {})
    track = (index) => analytics.track({ userId: `user-${index % 1000}`, event: 'job_match', properties: { i: index, jobTitle: 'Data Engineer' } })
    drain = () => analytics.closeAndFlush({ timeout: DELIVERY_TIMEOUT_MS })
  }

  globalThis.gc?.()
  const baseline = process.memoryUsage.rss()
  let peak = baseline
  const start = process.hrtime.bigint()
  for (let index = 0; index < BURST; index++) track(index)
  const loopEnd = process.hrtime.bigint()
  peak = Math.max(peak, process.memoryUsage.rss())

  const loopDelay = monitorEventLoopDelay({ resolution: 5 })
  loopDelay.enable()
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss())
  }, 5)
  let timedOut = false
  const timeout = new Promise((resolve) => setTimeout(() => resolve((timedOut = true)), DELIVERY_TIMEOUT_MS + 5000).unref())
  await Promise.race([drain().catch(() => undefined), timeout])
  const end = process.hrtime.bigint()
  clearInterval(sampler)
  loopDelay.disable()
  peak = Math.max(peak, process.memoryUsage.rss())
  return {
    perCallUs: Number(loopEnd - start) / 1000 / BURST,
    deliveryMs: Number(end - start) / 1e6,
    rssGrowthMb: (peak - baseline) / 2 ** 20,
    maxLoopDelayMs: loopDelay.max / 1e6,
    timedOut,
  }
}

// ---------------------------------------------------------------- in-process micro-benchmarks

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

async function microBenchmarks() {
  const noop: Sink = { name: 'noop', write: async () => ({ type: 'success' }) }
  const tracker = createTracker({ sinks: [noop], batchSize: 1000, maxQueueSize: 1_000_000 })
  const rounds = 7
  const calls = 100_000

  const trackCost: number[] = []
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint()
    for (let index = 0; index < calls; index++) tracker.track({ userId: 'u1', activityType: 'job_match', metadata: { i: index } })
    trackCost.push(Number(process.hrtime.bigint() - start) / calls)
    await tracker.flush()
  }

  const bare = (a: number, b: number) => a * b + 1
  const wrapped = withActivity(tracker, { activityType: 'compute' }, bare)
  const bareAsync = async (a: number) => a + 1
  const wrappedAsync = withActivity(tracker, { activityType: 'compute' }, bareAsync)
  const measure = async (fn: () => unknown | Promise<unknown>, asynchronous: boolean) => {
    const samples: number[] = []
    for (let round = 0; round < rounds; round++) {
      const start = process.hrtime.bigint()
      if (asynchronous) for (let index = 0; index < calls; index++) await fn()
      else for (let index = 0; index < calls; index++) fn()
      samples.push(Number(process.hrtime.bigint() - start) / calls)
      await tracker.flush()
    }
    return median(samples)
  }
  const syncBare = await measure(() => bare(3, 4), false)
  const syncWrapped = await measure(() => wrapped(3, 4), false)
  const asyncBare = await measure(() => bareAsync(3), true)
  const asyncWrapped = await measure(() => wrappedAsync(3), true)
  await tracker.shutdown()
  return {
    trackNs: median(trackCost),
    withActivitySyncNs: syncWrapped - syncBare,
    withActivityAsyncNs: asyncWrapped - asyncBare,
  }
}

// ---------------------------------------------------------------- parent: server and table

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks)))
    request.on('error', reject)
  })
}

function eventIndex(event: Record<string, unknown>): number | undefined {
  const holder = (event.metadata ?? event.properties) as { i?: unknown } | undefined
  return typeof holder?.i === 'number' ? holder.i : undefined
}

async function startCountingServer() {
  let seen = new Uint8Array(BURST)
  let distinct = 0
  const server = createServer(async (request, response) => {
    try {
      let body = await readBody(request)
      if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body)
      const parsed = JSON.parse(body.toString('utf8')) as { activities?: unknown[]; batch?: unknown[] }
      for (const event of (parsed.activities ?? parsed.batch ?? []) as Record<string, unknown>[]) {
        const index = eventIndex(event)
        if (index !== undefined && seen[index] === 0) {
          seen[index] = 1
          distinct++
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    } catch {
      response.writeHead(400).end()
    }
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    host: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reset() {
      seen = new Uint8Array(BURST)
      distinct = 0
    },
    get distinct() {
      return distinct
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

function runChild(scenario: Scenario, host: string): Promise<BurstResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--expose-gc', fileURLToPath(import.meta.url), 'child', scenario.sdk, String(scenario.tuned), host],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('exit', (code) => {
      const line = output.trim().split('\n').pop() ?? ''
      try {
        resolve(JSON.parse(line) as BurstResult)
      } catch {
        reject(new Error(`${scenario.name} exited with ${code}: ${output}`))
      }
    })
  })
}

const fmt = (value: number, digits = 1) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

async function main() {
  const micro = await microBenchmarks()
  console.log('| measure | usertracking | target |')
  console.log('| --- | ---: | ---: |')
  console.log(`| track() per call | ${fmt(micro.trackNs / 1000, 2)} µs | ≤ 1 µs |`)
  console.log(`| withActivity overhead, sync | ${fmt(micro.withActivitySyncNs / 1000, 2)} µs | ≤ 2 µs |`)
  console.log(`| withActivity overhead, async | ${fmt(micro.withActivityAsyncNs / 1000, 2)} µs | ≤ 2 µs |`)
  console.log()

  const server = await startCountingServer()
  const rows: { scenario: Scenario; result: BurstResult; delivered: number }[] = []
  for (const scenario of scenarios) {
    server.reset()
    const result = await runChild(scenario, server.host)
    // Give requests already on the wire a moment to be counted.
    await new Promise((resolve) => setTimeout(resolve, 200))
    rows.push({ scenario, result, delivered: server.distinct })
  }
  await server.close()

  const throughput = (row: (typeof rows)[number]) => row.delivered / (row.result.deliveryMs / 1000)
  console.log(`Burst of ${BURST.toLocaleString('en-US')} events to a node:http server on 127.0.0.1 that parses every batch:\n`)
  console.log('| SDK | settings | per call | delivered/s | lost | peak RSS growth | worst event-loop delay |')
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |')
  for (const row of rows) {
    const lost = BURST - row.delivered
    console.log(
      `| ${row.scenario.name} | ${row.scenario.note} | ${fmt(row.result.perCallUs, 2)} µs | ${fmt(throughput(row), 0)}${row.result.timedOut ? ' (timed out)' : ''} | ${lost.toLocaleString('en-US')} | ${fmt(row.result.rssGrowthMb)} MB | ${fmt(row.result.maxLoopDelayMs)} ms |`,
    )
  }
  const ours = rows.filter((row) => row.scenario.sdk === 'usertracking')
  const peers = rows.filter((row) => row.scenario.sdk !== 'usertracking' && row.delivered === BURST)
  const bestOurs = Math.max(...ours.map(throughput))
  const bestPeer = peers.length ? Math.max(...peers.map(throughput)) : Math.max(...rows.filter((row) => row.scenario.sdk !== 'usertracking').map(throughput))
  const cheapestPeerCall = Math.min(...rows.filter((row) => row.scenario.sdk !== 'usertracking').map((row) => row.result.perCallUs))
  console.log()
  console.log('| ratio | value | target |')
  console.log('| --- | ---: | ---: |')
  console.log(`| delivered/s, best usertracking ÷ best peer that lost nothing | ${fmt(bestOurs / bestPeer, 2)}× | ≥ 5× |`)
  console.log(`| per-call cost, cheapest peer ÷ usertracking (defaults) | ${fmt(cheapestPeerCall / ours[0]!.result.perCallUs, 2)}× | |`)
  console.log(`| peak RSS growth per 100k, usertracking (defaults) | ${fmt(ours[0]!.result.rssGrowthMb)} MB | ≤ 100 MB |`)
  console.log(`| worst event-loop delay, usertracking (defaults) | ${fmt(ours[0]!.result.maxLoopDelayMs)} ms | ≤ 20 ms |`)
}

if (process.argv[2] === 'child') {
  const [, , , sdk, tuned, host] = process.argv
  runBurst(sdk as Scenario['sdk'], tuned === 'true', host!).then(
    (result) => {
      process.stdout.write(`\n${JSON.stringify(result)}\n`)
      process.exit(0)
    },
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    },
  )
} else {
  await main()
}
