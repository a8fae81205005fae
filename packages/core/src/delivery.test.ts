import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { Activity } from './activity'
import { httpSink } from './http-sink'
import { createTracker } from './tracker'

let server: Server | undefined
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())))

/** A real loopback endpoint that fails the first `failFirst` requests with 503, then stores by id. */
async function endpoint(failFirst = 0) {
  const stored = new Map<string, Activity>()
  let requests = 0
  server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      if (++requests <= failFirst) return void response.writeHead(503).end()
      const { activities } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { activities: Activity[] }
      for (const activity of activities) stored.set(activity.id, activity)
      response.writeHead(200).end('{}')
    })
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/api/activity`, stored, requests: () => requests }
}

/**
 * A real loopback endpoint that refuses bodies over `limit` bytes the way servers do: `413` answers
 * with a 413 and closes the connection without reading the body; `reset` resets the connection.
 */
async function sizeLimitedEndpoint(limit: number, refusal: '413' | 'reset') {
  const stored = new Map<string, Activity>()
  let refused = 0
  server = createServer((request, response) => {
    if (Number(request.headers['content-length']) > limit) {
      refused++
      if (refusal === 'reset') request.socket.resetAndDestroy()
      else response.writeHead(413, { connection: 'close' }).end()
      return
    }
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const { activities } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { activities: Activity[] }
      for (const activity of activities) stored.set(activity.id, activity)
      response.writeHead(200).end('{}')
    })
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/api/activity`, stored, refused: () => refused }
}

describe('delivery to a real loopback server', () => {
  it.each(['413', 'reset'] as const)(
    'delivers 500 activities of 25 KB each to a server that refuses bodies over 100 KB (%s, unread body)',
    async (refusal) => {
      const api = await sizeLimitedEndpoint(100_000, refusal)
      const tracker = createTracker({ sinks: [httpSink({ url: api.url })], retryBaseDelayMs: 10, warnings: false })
      const padding = 'x'.repeat(25_000)
      for (let index = 0; index < 500; index++) tracker.track({ activityType: 'large', metadata: { index, padding } })
      expect(await tracker.flush(60_000)).toBe(true)
      expect(api.stored.size).toBe(500)
      expect(api.refused()).toBeGreaterThan(0)
      expect(tracker.stats()).toMatchObject({ sent: 500, dropped: 0, queued: 0 })
      await tracker.shutdown()
    },
    // 12.5 MB through halving on a real socket: seconds on a busy machine, bounded by the flush.
    60_000,
  )

  it('never sends a body over maxBatchBytes, so a server with the default 1 MB limit never refuses one', async () => {
    const api = await sizeLimitedEndpoint(1024 * 1024, '413')
    const tracker = createTracker({ sinks: [httpSink({ url: api.url })], batchSize: 10_000, warnings: false })
    const padding = 'x'.repeat(20_000)
    for (let index = 0; index < 300; index++) tracker.track({ activityType: 'large', metadata: { index, padding } })
    expect(await tracker.flush(60_000)).toBe(true)
    expect(api.stored.size).toBe(300)
    expect(api.refused()).toBe(0)
    await tracker.shutdown()
  }, 60_000)

  it('delivers a burst of 20,000 activities exactly once, in order, through an outage', async () => {
    const api = await endpoint(3)
    const tracker = createTracker({
      sinks: [httpSink({ url: api.url })],
      maxQueueSize: 20_000,
      batchSize: 500,
      retryBaseDelayMs: 10,
    })
    const ids: string[] = []
    for (let index = 0; index < 20_000; index++) ids.push(tracker.track({ activityType: 'burst', metadata: { index } })!)
    expect(await tracker.flush(30_000)).toBe(true)
    expect(api.stored.size).toBe(20_000)
    expect([...api.stored.keys()]).toEqual(ids)
    expect(tracker.stats()).toMatchObject({ sent: 20_000, dropped: 0, queued: 0 })
    expect(tracker.stats().retried).toBeGreaterThan(0)
    await tracker.shutdown()
  }, 60_000)
})
