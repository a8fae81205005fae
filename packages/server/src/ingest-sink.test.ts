import { memorySink, memoryStore, type SinkResult } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import { createActivityHandler } from './handler'
import { ADMIN, startServer, type TestServer } from '../test/test-server'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function post(body: unknown): Promise<Response> {
  return fetch(`${server!.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json', ...ADMIN }, body: JSON.stringify(body) })
}

describe('ingest.sink', () => {
  it('ingests into the sink instead of the store, and reads still come from the store', async () => {
    const store = memoryStore()
    const buffer = memorySink({ name: 'buffer' })
    server = await startServer({ store, ingest: { sink: buffer } })
    const response = await post([{ activityType: 'a' }, { activityType: 'b' }])
    expect(response.status).toBe(200)
    const { ids } = (await response.json()) as { ids: string[] }
    expect(buffer.activities.map((activity) => activity.id)).toEqual(ids)
    expect(buffer.activities[0]).toMatchObject({ activityType: 'a', receivedAt: expect.any(String) })
    expect(store.size).toBe(0)
    await store.sink.write(buffer.activities, { signal: new AbortController().signal })
    const list = await fetch(`${server.url}/api/activities`, { headers: ADMIN })
    expect(((await list.json()) as { items: unknown[] }).items).toHaveLength(2)
  })

  it("answers the sink's failures as the store's: 503 with Retry-After when retryable, rejected ids listed", async () => {
    let next: SinkResult | undefined = { type: 'retryable', retryInMs: 3000 }
    const buffer = memorySink({ name: 'buffer', respond: () => next })
    server = await startServer({ ingest: { sink: buffer } })
    const refused = await post({ activityType: 'a' })
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('3')
    expect(((await refused.json()) as { error: string }).error).toContain('The buffer store is unavailable')
    const [first, second] = [{ id: crypto.randomUUID(), activityType: 'a' }, { id: crypto.randomUUID(), activityType: 'b' }]
    next = { type: 'success', rejected: [{ id: second.id, error: 'the buffer is full' }] }
    const partly = await post([first, second])
    expect(partly.status).toBe(200)
    expect(await partly.json()).toEqual({ accepted: 1, ids: [first.id], rejected: [{ id: second.id, error: 'the buffer is full' }] })
  })

  it('names the option when the sink is not one', () => {
    expect(() => createActivityHandler({ store: memoryStore(), ingest: { sink: {} as never } })).toThrow(
      '[usertracking] [server] options.ingest.sink must be a Sink (an object with a write method).',
    )
  })
})
