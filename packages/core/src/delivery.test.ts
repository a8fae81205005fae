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

describe('delivery to a real loopback server', () => {
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
  })
})
