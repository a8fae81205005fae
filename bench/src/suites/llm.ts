/**
 * What recording an LLM call costs: `withActivity` (defaults: a tracker with a no-op sink) against
 * an OpenTelemetry span per call (`@opentelemetry/sdk-trace-base`, BatchSpanProcessor, a no-op
 * exporter: the usual hand-written instrumentation), in one run, from the built `dist`:
 *
 * 1. overhead over the bare call, sync and async (target ≤ 2 µs);
 * 2. per-chunk overhead over a bare 1,000-chunk stream of OpenAI-shaped chunks, usage in the last
 *    one (target ≤ 5 µs). The span peer reads each chunk's usage and sets it on the span at the end.
 *
 * Times are CPU time of this process (user + system), not wall time, so other processes sharing
 * the machine do not count; each round measures bare, wrapped and peer back to back and the table
 * shows medians. Tracked activities are flushed between rounds, outside the timings.
 */
import { SpanStatusCode } from '@opentelemetry/api'
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base'
import { createTracker, withActivity, type Sink } from '@usertracking/core'

const ROUNDS = 9
const CALLS = 100_000
const CHUNKS = 1_000
const STREAMS = 100
const TARGET_CALL_US = 2
const TARGET_CHUNK_US = 5

const noop: Sink = { name: 'noop', write: async () => ({ type: 'success' }) }
const tracker = createTracker({ sinks: [noop], batchSize: 1000, maxQueueSize: 1_000_000 })

const exporter: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
  shutdown: async () => {},
}
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 1_000_000, maxExportBatchSize: 1000 })] })
const tracer = provider.getTracer('bench')

function spanned<A extends unknown[], R>(name: string, fn: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    const span = tracer.startSpan(name)
    try {
      const result = fn(...args)
      if (result instanceof Promise) {
        return result.then(
          (value) => {
            span.end()
            return value
          },
          (error: unknown) => {
            span.setStatus({ code: SpanStatusCode.ERROR })
            span.end()
            throw error
          },
        ) as R
      }
      span.end()
      return result
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR })
      span.end()
      throw error
    }
  }
}

// ---------------------------------------------------------------- the calls

const bareSync = (a: number, b: number) => a * b + 1
const bareAsync = async (a: number) => a + 1
const wrappedSync = withActivity(tracker, { activityType: 'compute' }, bareSync)
const wrappedAsync = withActivity(tracker, { activityType: 'compute' }, bareAsync)
const spanSync = spanned('compute', bareSync)
const spanAsync = spanned('compute', bareAsync)

interface Chunk {
  id: string
  object: 'chat.completion.chunk'
  model: string
  choices: { index: number; delta: { content?: string }; finish_reason: string | null }[]
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null
}

const chunks: Chunk[] = Array.from({ length: CHUNKS }, (_, index) => ({
  id: 'chatcmpl-bench',
  object: 'chat.completion.chunk',
  model: 'gpt-4o',
  choices: index === CHUNKS - 1 ? [] : [{ index: 0, delta: { content: 'tok' }, finish_reason: null }],
  usage: index === CHUNKS - 1 ? { prompt_tokens: 12, completion_tokens: CHUNKS - 1, total_tokens: 11 + CHUNKS } : null,
}))

async function* bareStream(): AsyncGenerator<Chunk> {
  for (const chunk of chunks) yield chunk
}
const wrappedStream = withActivity(tracker, { activityType: 'chat_stream' }, () => bareStream())
async function* spanStream(): AsyncGenerator<Chunk> {
  const span = tracer.startSpan('chat_stream')
  let usage: Chunk['usage'] = null
  try {
    for await (const chunk of bareStream()) {
      if (chunk.usage) usage = chunk.usage
      yield chunk
    }
  } finally {
    if (usage) span.setAttributes({ 'gen_ai.usage.input_tokens': usage.prompt_tokens, 'gen_ai.usage.output_tokens': usage.completion_tokens })
    span.end()
  }
}

// ---------------------------------------------------------------- measuring

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** CPU time of this process in nanoseconds (microsecond resolution). */
function cpuNow(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) * 1000
}

function timeSync(fn: () => unknown): number {
  const start = cpuNow()
  for (let index = 0; index < CALLS; index++) fn()
  return (cpuNow() - start) / CALLS
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = cpuNow()
  for (let index = 0; index < CALLS; index++) await fn()
  return (cpuNow() - start) / CALLS
}

async function timeStream(open: () => AsyncIterable<Chunk>): Promise<number> {
  let tokens = 0
  const start = cpuNow()
  for (let stream = 0; stream < STREAMS; stream++) {
    for await (const chunk of open()) tokens += chunk.choices.length
  }
  const elapsed = cpuNow() - start
  if (tokens !== STREAMS * (CHUNKS - 1)) throw new Error('a stream lost chunks')
  return elapsed / (STREAMS * CHUNKS)
}

async function settle(): Promise<void> {
  await tracker.flush()
  await provider.forceFlush()
  globalThis.gc?.()
}

type Row = { bare: number[]; ours: number[]; peer: number[] }
const rows = { sync: { bare: [], ours: [], peer: [] } as Row, async: { bare: [], ours: [], peer: [] } as Row, chunk: { bare: [], ours: [], peer: [] } as Row }

for (let round = 0; round < ROUNDS; round++) {
  rows.sync.bare.push(timeSync(() => bareSync(3, 4)))
  rows.sync.ours.push(timeSync(() => wrappedSync(3, 4)))
  await settle()
  rows.sync.peer.push(timeSync(() => spanSync(3, 4)))
  await settle()
  rows.async.bare.push(await timeAsync(() => bareAsync(3)))
  rows.async.ours.push(await timeAsync(() => wrappedAsync(3)))
  await settle()
  rows.async.peer.push(await timeAsync(() => spanAsync(3)))
  await settle()
  rows.chunk.bare.push(await timeStream(bareStream))
  rows.chunk.ours.push(await timeStream(wrappedStream))
  await settle()
  rows.chunk.peer.push(await timeStream(spanStream))
  await settle()
}

const us = (ns: number) => (ns / 1000).toFixed(2)
const overhead = (row: Row, side: 'ours' | 'peer') => Math.max(0, median(row[side]) - median(row.bare))
const lines: [string, Row, number][] = [
  ['call overhead, sync', rows.sync, TARGET_CALL_US],
  ['call overhead, async', rows.async, TARGET_CALL_US],
  [`per-chunk overhead, ${CHUNKS.toLocaleString('en-US')}-chunk stream`, rows.chunk, TARGET_CHUNK_US],
]

console.log(`CPU time, median of ${ROUNDS} rounds (${CALLS.toLocaleString('en-US')} calls, ${STREAMS} streams of ${CHUNKS.toLocaleString('en-US')} chunks each), defaults:\n`)
console.log('| measure | bare | usertracking withActivity | OpenTelemetry span | span ÷ withActivity | target |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
let missed = false
for (const [name, row, target] of lines) {
  const ours = overhead(row, 'ours')
  const peer = overhead(row, 'peer')
  if (ours / 1000 > target) missed = true
  console.log(`| ${name} | ${us(median(row.bare))} µs | +${us(ours)} µs | +${us(peer)} µs | ${(peer / Math.max(ours, 1)).toFixed(2)}× | ≤ ${target} µs |`)
}
console.log()
if (missed) console.log('At least one target was missed in this run (other processes share the machine; rerun to confirm).')
await tracker.shutdown()
await provider.shutdown()
