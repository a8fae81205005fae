import { uuidv7, type Activity } from '@usertracking/core'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startLoopbackIngest, type LoopbackIngest } from '../test/loopback-ingest'
import { pageSink } from './page-sink'

let ingest: LoopbackIngest
let url = ''

beforeAll(async () => {
  ingest = await startLoopbackIngest()
  url = ingest.url
})

afterAll(() => ingest.close())

beforeEach(() => {
  ingest.received.length = 0
  ingest.reply = { status: 200 }
})

/** What arrived, request by request, as the ids each carried. */
const received = () => ingest.received.map((request) => ({ ...request, ids: request.activities.map((activity) => activity.id) }))

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
    expect(received()).toEqual([{ contentType: 'text/plain;charset=UTF-8', activities: batch, ids: batch.map((item) => item.id), bytes: expect.any(Number) }])
  })

  it('maps statuses as core does, honouring Retry-After', async () => {
    ingest.reply = { status: 503, headers: { 'retry-after': '7' } }
    expect(await write([activity()])).toMatchObject({ type: 'retryable', retryInMs: 7000 })
    ingest.reply = { status: 413 }
    expect(await write([activity()])).toMatchObject({ type: 'too_large' })
    ingest.reply = { status: 400 }
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
    await until(() => ingest.received.length === 2)
    expect(received().map((request) => request.ids.length)).toEqual([2, 1])
    for (const request of received()) expect(request.bytes).toBeLessThan(60_000)

    expect(sink.beacon(batch)).toEqual([])
    // A write resolves only after its response, which the server sends after recording the request.
    expect(await sink.write(batch, { signal: new AbortController().signal })).toEqual({ type: 'success' })
    expect(ingest.received).toHaveLength(2)
  })

  it('neither beacons nor reports as sent the activities of a request still in flight, which a 503 then leaves owed', async () => {
    const sink = pageSink(() => url)
    ingest.reply = { status: 503, delayMs: 300 }
    const [inFlight, later] = [[activity(), activity()], activity()]
    const writing = sink.write(inFlight, { signal: new AbortController().signal })
    await until(() => ingest.received.length === 1)
    // The page is hidden while the request is open: only what is not in it goes by beacon.
    expect(sink.beacon([...inFlight, later])).toEqual([later.id])
    expect(await writing).toMatchObject({ type: 'retryable' })
    await until(() => ingest.received.length === 2)
    expect(received().map((request) => request.ids)).toEqual([inFlight.map((item) => item.id), [later.id]])
    // Unacknowledged, they are still owed: the next write sends them.
    ingest.reply = { status: 200 }
    expect(await sink.write(inFlight, { signal: new AbortController().signal })).toMatchObject({ type: 'success' })
    expect(received()[2]?.ids).toEqual(inFlight.map((item) => item.id))
  })
})
