import { createTracker, httpSink, memoryStore } from '@usertracking/core'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { streamKeys } from '../src/keys'
import { redisStreamSink } from '../src/redis-stream-sink'
import { closeClients, createClient, uniquePrefix } from './clients'
import { startInstance } from './instance'
import { redisBinariesInstalled, startRedisServer } from './redis-servers'

const cleanup: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})
afterAll(closeClients)

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const paths = [
  { path: 'through the ingest route (ingest: { sink })', viaHandler: true },
  { path: 'from a tracker delivering to the sink itself', viaHandler: false },
]

describe.skipIf(!redisBinariesInstalled()).each(paths)('a Redis restart during ingest $path', ({ viaHandler }) => {
  it('is answered retryable while Redis is down, the delivery is retried, and nothing acknowledged is lost', async () => {
    // AOF with fsync on every write: an acknowledged append survives even this SIGKILL.
    const redis = await startRedisServer()
    cleanup.push(() => redis.stop())
    const client = createClient({ mode: 'standalone', server: redis }, { retryDelayMs: 100 })
    const keyPrefix = uniquePrefix()
    const sink = redisStreamSink({ client, keyPrefix, commandTimeoutMs: 1000 })
    const instance = await startInstance({ store: memoryStore(), sink })
    cleanup.push(() => instance.close())
    const tracker = createTracker({
      sinks: [viaHandler ? httpSink({ url: `${instance.url}/api/activity`, headers: { authorization: 'Bearer admin' } }) : sink],
      batchSize: 20,
      debounceTime: 0,
      flushInterval: 20,
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 200,
      maxRetries: 1000,
    })
    cleanup.push(() => tracker.shutdown())
    const acknowledged = new Set<string>()
    tracker.on('sent', (activities) => activities.forEach((activity) => acknowledged.add(activity.id)))
    const tracked: string[] = []
    const track = (count: number, phase: string) => {
      for (let index = 0; index < count; index++) tracked.push(tracker.track({ activityType: 'click', metadata: { phase, index } })!)
    }

    track(100, 'before')
    await until('the first hundred acknowledged', () => acknowledged.size === 100)
    await redis.crash()
    track(100, 'while-down')
    await until('a refused batch being retried', () => tracker.stats().retried > 0)
    await redis.restart()
    track(100, 'after')
    expect(await tracker.flush(60_000)).toBe(true)

    expect(tracker.stats()).toMatchObject({ sent: 300, dropped: 0 })
    expect(acknowledged.size).toBe(300)
    const entries = (await client.xrange(streamKeys({ keyPrefix }).stream, '-', '+')) as [string, string[]][]
    const stored = new Set(entries.map(([, fields]) => (JSON.parse(fields[1]!) as { id: string }).id))
    for (const id of tracked) expect(stored.has(id)).toBe(true)
  })
})
