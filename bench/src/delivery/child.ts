/**
 * One SDK, one measure, in a process of its own (so no SDK's heap, GC or sockets colour
 * another's numbers). Started by the delivery suite with `<measure> <scenario id> <collector origin>`
 * and an IPC channel:
 *
 * 1. the child starts the SDK and sends `ready`;
 * 2. the parent (which may start the collector's outage now) answers `go`;
 * 3. the child runs the measure, sends `tracked` once its last `track()` returned, then `result`,
 *    and exits.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import {
  CLOSE_TIMEOUT_MS,
  DRAIN_TIMEOUT_MS,
  OUTAGE_MS,
  OUTAGE_SLICES,
  ROUND_CALLS,
  RSS_SAMPLE_MS,
  epochMs,
  type ChildMessage,
  type DeliveryResult,
  type Measure,
  type PerCallResult,
} from './protocol'
import { EVENTS, SCENARIOS, type BenchClient } from './scenarios'

const nowNs = () => process.hrtime.bigint()
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))
const sleepUntil = (epoch: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, epoch - epochMs())))

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()))
}

/** An untimed round that warms the JIT up, then the timed one; each delivered before the next. */
async function perCall(client: BenchClient): Promise<PerCallResult> {
  let result: PerCallResult | undefined
  for (const base of [0, ROUND_CALLS]) {
    globalThis.gc?.()
    const start = nowNs()
    for (let index = base; index < base + ROUND_CALLS; index++) client.track(index)
    const returned = nowNs()
    await nextTurn()
    const settled = nowNs()
    result = { callNs: Number(returned - start) / ROUND_CALLS, callWithMicrotasksNs: Number(settled - start) / ROUND_CALLS }
    // Deliver the round, so the timed one starts from an empty queue and a quiet process.
    await client.flush(DRAIN_TIMEOUT_MS)
  }
  await send({ type: 'tracked' })
  await client.close(CLOSE_TIMEOUT_MS)
  return result!
}

/**
 * The burst (every event in one synchronous loop) or the outage (the events in equal slices spread
 * over `OUTAGE_MS`), then the SDK's own flush and close, watching RSS and the event loop throughout.
 */
async function delivery(client: BenchClient, measure: 'burst' | 'outage'): Promise<DeliveryResult> {
  globalThis.gc?.()
  const baseline = process.memoryUsage.rss()
  let peak = baseline
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage.rss())
  }
  const sampler = setInterval(sample, RSS_SAMPLE_MS)
  const startedAt = epochMs()
  if (measure === 'burst') {
    for (let index = 0; index < EVENTS; index++) client.track(index)
  } else {
    const slice = EVENTS / OUTAGE_SLICES
    for (let part = 0; part < OUTAGE_SLICES; part++) {
      for (let index = part * slice; index < (part + 1) * slice; index++) client.track(index)
      sample()
      await sleepUntil(startedAt + ((part + 1) * OUTAGE_MS) / OUTAGE_SLICES)
    }
  }
  const trackedAt = epochMs()
  sample()
  await send({ type: 'tracked' })
  const loopDelay = monitorEventLoopDelay({ resolution: 1 })
  loopDelay.enable()
  const flushStart = epochMs()
  await client.flush(DRAIN_TIMEOUT_MS)
  const flushCutOff = epochMs() - flushStart >= DRAIN_TIMEOUT_MS
  await client.close(CLOSE_TIMEOUT_MS)
  loopDelay.disable()
  clearInterval(sampler)
  sample()
  return { startedAt, trackedAt, rssGrowthBytes: peak - baseline, maxLoopDelayMs: loopDelay.max / 1e6, flushCutOff }
}

async function main(): Promise<void> {
  // Never outlive the suite that started this process.
  process.on('disconnect', () => process.exit(1))
  const [measure, id, origin] = process.argv.slice(2) as [Measure, string, string]
  const scenario = SCENARIOS.find((candidate) => candidate.id === id)
  if (!scenario || !origin) throw new Error(`[usertracking] [bench] Unknown scenario ${id} or no collector origin.`)
  const client = await scenario.start(origin)
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()))
  await send({ type: 'ready' })
  await go
  const result = measure === 'per-call' ? await perCall(client) : await delivery(client, measure)
  await send({ type: 'result', result })
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    await send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
    process.exit(1)
  },
)
