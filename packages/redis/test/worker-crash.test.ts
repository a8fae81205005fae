import { uuidv7, type Activity } from '@usertracking/core'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { redisStreamSink } from '../src/redis-stream-sink'
import { streamKeys } from '../src/keys'
import { createStreamWorker } from '../src/stream-worker'
import { closeClients, createClient, deletePrefix, uniquePrefix } from './clients'
import { redisModes } from './modes'
import { databaseUrl, openTable, postgresAvailable } from './postgres'
import { startFixture } from './processes'

const cleanup: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})
afterAll(closeClients)

describe.each(redisModes())('a worker SIGKILLed mid-batch, on $name', ({ target }) => {
  it.skipIf(!target || !postgresAvailable)('leaves its entries to another worker: none lost, none stored twice', async () => {
    const keyPrefix = uniquePrefix()
    const client = createClient(target!)
    cleanup.push(() => deletePrefix(client, keyPrefix))
    const table = await openTable()
    cleanup.push(() => table.drop())
    const activities: Activity[] = Array.from({ length: 1000 }, (_, index) => ({ id: uuidv7(), activityType: 'page_view', userId: `u${index % 7}`, timestamp: new Date().toISOString() }))
    const sink = redisStreamSink({ client, keyPrefix })
    for (let offset = 0; offset < activities.length; offset += 250) {
      expect(await sink.write(activities.slice(offset, offset + 250), { signal: new AbortController().signal })).toEqual({ type: 'success' })
    }

    const doomed = await startFixture('worker-process', { target, keyPrefix, schema: table.schema, databaseUrl, batchSize: 200, crashMidBatch: true })
    await doomed.line((line) => line.startsWith('mid-batch '))
    // Its first batch is half in PostgreSQL and wholly unacknowledged in Redis.
    await doomed.kill()
    expect((await table.count()).rows).toBe(100)
    const { stream } = streamKeys({ keyPrefix })
    const [pending] = (await client.xpending(stream, 'usertracking')) as [number]
    expect(pending).toBe(200)

    const survivor = createStreamWorker({ client, keyPrefix, store: table.store, claimIdleMs: 1000, logger: { debug() {}, warn() {}, error() {} } })
    cleanup.push(() => survivor.stop())
    const deadline = Date.now() + 60_000
    while ((await table.count()).rows < activities.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await table.count()).toEqual({ rows: 1000, ids: 1000 })
    expect(survivor.stats().claimed).toBe(200)
    while (((await client.xpending(stream, 'usertracking')) as [number])[0] > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(((await client.xpending(stream, 'usertracking')) as [number])[0]).toBe(0)
  })
})
