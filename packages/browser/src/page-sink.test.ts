import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { uuidv7, type Activity } from '@usertracking/core'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { pageSink } from './page-sink'

interface Received {
  contentType: string | undefined
  ids: string[]
  bytes: number
}

let server: Server
let url = ''
let received: Received[] = []
let reply: { status: number; headers?: Record<string, string>; delayMs?: number } = { status: 200 }

beforeAll(async () => {
  server = createServer((request, response) => {
    // The test page is served from another origin than this loopback server, and happy-dom asks first.
    const cors = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'retry-after', 'access-control-allow-headers': '*' }
    if (request.method === 'OPTIONS') {
      response.writeHead(204, cors).end()
      return
    }
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const { activities } = JSON.parse(body) as { activities: Activity[] }
      received.push({ contentType: request.headers['content-type'], ids: activities.map((activity) => activity.id), bytes: Buffer.byteLength(body) })
      const { status, headers, delayMs = 0 } = reply
      setTimeout(() => response.writeHead(status, { ...cors, ...headers }).end(), delayMs)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`
})

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

beforeEach(() => {
  received = []
  reply = { status: 200 }
})

function activity(padding = 0): Activity {
  return { id: uuidv7(), activityType: 'test', timestamp: new Date().toISOString(), metadata: { padding: 'x'.repeat(padding) } }
}

const write = (batch: Activity[]) => pageSink(() => url).write(batch, { signal: new AbortController().signal })

async function until(check: () => boolean): Promise<void> {
  for (let tries = 0; tries < 100 && !check(); tries++) await new Promise((resolve) => setTimeout(resolve, 20))
}

describe('pageSink', () => {
  it('POSTs a batch as text/plain JSON and reports success', async () => {
    const batch = [activity(), activity()]
    expect(await write(batch)).toEqual(expect.objectContaining({ type: 'success' }))
    expect(received).toEqual([{ contentType: 'text/plain;charset=UTF-8', ids: batch.map((item) => item.id), bytes: expect.any(Number) }])
  })

  it('maps statuses as core does, honouring Retry-After', async () => {
    reply = { status: 503, headers: { 'retry-after': '7' } }
    expect(await write([activity()])).toMatchObject({ type: 'retryable', retryInMs: 7000 })
    reply = { status: 413 }
    expect(await write([activity()])).toMatchObject({ type: 'too_large' })
    reply = { status: 400 }
    expect(await write([activity()])).toMatchObject({ type: 'failure', error: new Error('HTTP 400') })
  })

  it('reports a network failure as retryable', async () => {
    const sink = pageSink(() => 'http://127.0.0.1:1/ingest')
    expect(await sink.write([activity()], { signal: new AbortController().signal })).toMatchObject({ type: 'retryable' })
  })

  it('splits a beacon into bodies under 60 KB, and never sends a beaconed activity again', async () => {
    const sink = pageSink(() => url)
    const batch = [activity(25_000), activity(25_000), activity(25_000)]
    const sent = sink.beacon(batch)
    expect(sent).toEqual(batch.map((item) => item.id))
    await until(() => received.length === 2)
    expect(received.map((request) => request.ids.length)).toEqual([2, 1])
    for (const request of received) expect(request.bytes).toBeLessThan(60_000)

    expect(sink.beacon(batch)).toEqual([])
    // A write resolves only after its response, which the server sends after recording the request.
    expect(await sink.write(batch, { signal: new AbortController().signal })).toEqual({ type: 'success' })
    expect(received).toHaveLength(2)
  })

  it('neither beacons nor reports as sent the activities of a request still in flight, which a 503 then leaves owed', async () => {
    const sink = pageSink(() => url)
    reply = { status: 503, delayMs: 300 }
    const [inFlight, later] = [[activity(), activity()], activity()]
    const writing = sink.write(inFlight, { signal: new AbortController().signal })
    await until(() => received.length === 1)
    // The page is hidden while the request is open: only what is not in it goes by beacon.
    expect(sink.beacon([...inFlight, later])).toEqual([later.id])
    expect(await writing).toMatchObject({ type: 'retryable' })
    await until(() => received.length === 2)
    expect(received.map((request) => request.ids)).toEqual([inFlight.map((item) => item.id), [later.id]])
    // Unacknowledged, they are still owed: the next write sends them.
    reply = { status: 200 }
    expect(await sink.write(inFlight, { signal: new AbortController().signal })).toMatchObject({ type: 'success' })
    expect(received[2]?.ids).toEqual(inFlight.map((item) => item.id))
  })
})
