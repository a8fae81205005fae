/**
 * The tracker's own numbers, at default settings, against the targets of issue 10:
 *
 * 1. `track()` per call: median of 7 rounds of 100k calls, built `dist`, a sink that accepts at once.
 * 2. Heap retained per queued activity: 100k typical activities held by a sink that never answers.
 * 3. A burst of 100k `track()` calls to a node:http server on 127.0.0.1 that parses every batch,
 *    and 100k tracked while that server answers 503 for its first 5 s: delivered per second, lost,
 *    peak RSS growth and the worst event-loop delay while delivering. Each run is a child process
 *    (its own heap and event loop); the server runs here and counts distinct activities. Settings:
 *    the Node tracker with its file journal (`createNodeTracker({ url, dir })`), the Node tracker in
 *    memory only (`dir: false`), and core's `createTracker` with `httpSink`, each at its defaults.
 *
 * The peer comparison (OpenTelemetry, posthog-node, Segment, Amplitude) is the `core` suite's.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { createTracker, httpSink, type Sink } from '@usertracking/core'
import { createNodeTracker } from '@usertracking/node'

const BURST = 100_000
const OUTAGE_MS = 5000
const DELIVERY_TIMEOUT_MS = 120_000

type Setup = 'node-file' | 'node-memory' | 'core-memory'
type Scenario = { setup: Setup; outage: boolean; name: string }

const scenarios: Scenario[] = [
  { setup: 'node-file', outage: false, name: 'createNodeTracker, file journal (defaults)' },
  { setup: 'node-memory', outage: false, name: 'createNodeTracker, dir: false (memory only)' },
  { setup: 'core-memory', outage: false, name: 'createTracker + httpSink (memory only)' },
  { setup: 'node-file', outage: true, name: 'createNodeTracker, file journal, 5 s outage' },
  { setup: 'node-memory', outage: true, name: 'createNodeTracker, dir: false, 5 s outage' },
]

const typical = (index: number) => ({ userId: `user-${index % 1000}`, activityType: 'job_match', metadata: { i: index, jobTitle: 'Data Engineer' } })

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

// ---------------------------------------------------------------- in-process measures

/** Per call: wall time, and this process's CPU time (which a busy machine does not inflate). */
async function trackCost(): Promise<{ wallNs: number; cpuNs: number }> {
  const accept: Sink = { name: 'accept', write: async () => ({ type: 'success' }) }
  const tracker = createTracker({ sinks: [accept] })
  const wall: number[] = []
  const cpu: number[] = []
  for (let round = 0; round < 7; round++) {
    const start = process.hrtime.bigint()
    const startCpu = process.cpuUsage()
    for (let index = 0; index < BURST; index++) tracker.track(typical(index))
    const usedCpu = process.cpuUsage(startCpu)
    wall.push(Number(process.hrtime.bigint() - start) / BURST)
    cpu.push(((usedCpu.user + usedCpu.system) * 1000) / BURST)
    await tracker.flush()
  }
  await tracker.shutdown()
  return { wallNs: median(wall), cpuNs: median(cpu) }
}

async function bytesPerQueued(): Promise<number> {
  const never: Sink = { name: 'never', write: () => new Promise(() => {}) }
  const tracker = createTracker({ sinks: [never], warnings: false })
  // Warm up the code paths (and the one write that will never answer) before measuring.
  for (let index = 0; index < 1000; index++) tracker.track(typical(index))
  await new Promise((resolve) => setTimeout(resolve, 600))
  globalThis.gc!()
  const before = process.memoryUsage().heapUsed
  for (let index = 0; index < BURST; index++) tracker.track(typical(index))
  globalThis.gc!()
  const after = process.memoryUsage().heapUsed
  if (tracker.stats().queued < BURST) throw new Error('the queue did not hold the burst')
  return (after - before) / BURST
}

// ---------------------------------------------------------------- child: one tracker, one burst

interface BurstResult {
  deliveryMs: number
  rssGrowthMb: number
  maxLoopDelayMs: number
  dropped: number
  timedOut: boolean
}

async function runBurst(setup: Setup, host: string): Promise<BurstResult> {
  const url = `${host}/api/activity`
  const dir = setup === 'node-file' ? mkdtempSync(join(tmpdir(), 'usertracking-bench-')) : undefined
  const tracker =
    setup === 'core-memory'
      ? createTracker({ sinks: [httpSink({ url })], warnings: false })
      : createNodeTracker({ url, dir: dir ?? false, shutdownHooks: false, warnings: false })
  globalThis.gc!()
  const baseline = process.memoryUsage.rss()
  let peak = baseline
  const loopDelay = monitorEventLoopDelay({ resolution: 5 })
  const start = process.hrtime.bigint()
  for (let index = 0; index < BURST; index++) tracker.track(typical(index))
  peak = Math.max(peak, process.memoryUsage.rss())
  loopDelay.enable()
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5)
  let delivered = false
  const deadline = Date.now() + DELIVERY_TIMEOUT_MS
  while (!delivered && Date.now() < deadline) {
    // flush() is false while the outage drops nothing but outlasts it; keep waiting until delivered.
    delivered = await tracker.flush(Math.max(1, deadline - Date.now()))
    if (!delivered && tracker.stats().queued === 0) break
  }
  const end = process.hrtime.bigint()
  clearInterval(sampler)
  loopDelay.disable()
  peak = Math.max(peak, process.memoryUsage.rss())
  const { dropped } = tracker.stats()
  await tracker.shutdown()
  if (dir) rmSync(dir, { recursive: true, force: true })
  return {
    deliveryMs: Number(end - start) / 1e6,
    rssGrowthMb: (peak - baseline) / 2 ** 20,
    maxLoopDelayMs: loopDelay.max / 1e6,
    dropped,
    timedOut: !delivered,
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

async function startCountingServer() {
  let seen = new Uint8Array(BURST)
  let distinct = 0
  let downUntil = 0
  const server = createServer(async (request, response) => {
    const body = await readBody(request).catch(() => undefined)
    if (Date.now() < downUntil) return void response.writeHead(503).end()
    try {
      const parsed = JSON.parse(body!.toString('utf8')) as { activities: { metadata?: { i?: number } }[] }
      for (const activity of parsed.activities) {
        const index = activity.metadata?.i
        if (typeof index === 'number' && seen[index] === 0) {
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
    reset(outage: boolean) {
      seen = new Uint8Array(BURST)
      distinct = 0
      downUntil = outage ? Date.now() + OUTAGE_MS : 0
    },
    get distinct() {
      return distinct
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

function runChild(scenario: Scenario, host: string): Promise<BurstResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', fileURLToPath(import.meta.url), 'child', scenario.setup, host], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(output.trim().split('\n').pop() ?? '') as BurstResult)
      } catch {
        reject(new Error(`${scenario.name} exited with ${code}: ${output}`))
      }
    })
  })
}

const fmt = (value: number, digits = 1) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

async function main() {
  const track = await trackCost()
  // Wall and CPU time both grow on a busy machine; the load says how busy it was.
  const load = loadavg()[0]!
  const bytes = await bytesPerQueued()
  console.log('| measure (defaults) | usertracking | target |')
  console.log('| --- | ---: | ---: |')
  console.log(`| track() per call, median of 7 × 100k (wall time) | ${fmt(track.wallNs, 0)} ns | ≤ 1,000 ns |`)
  console.log(`| track() per call, median of 7 × 100k (CPU time of the process) | ${fmt(track.cpuNs, 0)} ns | ≤ 1,000 ns |`)
  console.log(`| heap retained per queued typical activity | ${fmt(bytes, 0)} B | ≤ 400 B |`)
  console.log(`\nLoad average (1 min) while timing track(): ${fmt(load, 2)}.\n`)

  const server = await startCountingServer()
  console.log(`${BURST.toLocaleString('en-US')} activities tracked in one burst, to a node:http server on 127.0.0.1 that parses every batch:\n`)
  console.log('| tracker | delivered/s | lost | dropped | peak RSS growth | worst event-loop delay |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const scenario of scenarios) {
    server.reset(scenario.outage)
    const result = await runChild(scenario, server.host)
    await new Promise((resolve) => setTimeout(resolve, 200))
    const delivered = server.distinct
    const perSecond = delivered / (result.deliveryMs / 1000)
    console.log(
      `| ${scenario.name} | ${fmt(perSecond, 0)}${result.timedOut ? ' (timed out)' : ''} | ${(BURST - delivered).toLocaleString('en-US')} | ${result.dropped.toLocaleString('en-US')} | ${fmt(result.rssGrowthMb)} MB | ${fmt(result.maxLoopDelayMs)} ms |`,
    )
  }
  await server.close()
  console.log('\nTargets: 0 lost; delivered/s ≥ 100,000 without an outage; peak RSS growth ≤ 50 MB with the file journal; loop delay ≤ 20 ms.')
}

if (process.argv[2] === 'child') {
  const [, , , setup, host] = process.argv
  runBurst(setup as Setup, host!).then(
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
