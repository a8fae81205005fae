import { memoryStore, uuidv7, type Activity, type SinkResult, type Store } from '@usertracking/core'
import { afterAll, describe, expect, it } from 'vitest'
import { closeClients, createClient, deletePrefix, uniquePrefix } from '../test/clients'
import { redisModes } from '../test/modes'
import { openTable, postgresAvailable } from '../test/postgres'
import type { RedisClient } from './client'
import { streamKeys } from './keys'
import { redisStreamSink } from './redis-stream-sink'
import { createStreamWorker, type StreamWorker } from './stream-worker'

afterAll(closeClients)

const signal = new AbortController().signal
const quiet = { debug: () => {}, warn: () => {}, error: () => {} }

function activities(count: number, userId = 'u1'): Activity[] {
  return Array.from({ length: count }, (_, index) => ({
    id: uuidv7(),
    activityType: 'job_match',
    userId,
    timestamp: new Date().toISOString(),
    metadata: { index },
  }))
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Entries of the group not yet acknowledged (delivered or not). */
async function backlog(client: RedisClient, stream: string, group: string): Promise<number> {
  const groups = (await client.xinfo('GROUPS', stream)) as unknown[][]
  const info = groups.map((fields) => Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, index) => [fields[index * 2], fields[index * 2 + 1]])))
  const mine = info.find((fields) => fields.name === group)!
  return Number(mine.pending) + Number(mine.lag)
}

async function deadLetters(client: RedisClient, key: string): Promise<Record<string, string>[]> {
  const entries = (await client.xrange(key, '-', '+')) as [string, string[]][]
  return entries.map(([, fields]) => Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, index) => [fields[index * 2], fields[index * 2 + 1]])))
}

/** The store, but its sink answers with `answer` instead while it returns a result: failure injection around a real store. */
function intercepted(store: Pick<Store, 'name' | 'sink'>, answer: (batch: Activity[]) => SinkResult | undefined | Promise<SinkResult | undefined>): Pick<Store, 'name' | 'sink'> {
  return {
    name: store.name,
    sink: {
      name: store.sink.name,
      async write(batch, options) {
        return (await answer(batch)) ?? store.sink.write(batch, options)
      },
    },
  }
}

describe.each(redisModes())('createStreamWorker on $name', ({ target }) => {
  it.skipIf(!target || !postgresAvailable)('drains the stream into PostgreSQL, acknowledging each entry once the store took it', async () => {
    const client = createClient(target!)
    const keyPrefix = uniquePrefix()
    const table = await openTable()
    const sink = redisStreamSink({ client, keyPrefix })
    const written = activities(1200)
    for (let offset = 0; offset < written.length; offset += 300) {
      expect(await sink.write(written.slice(offset, offset + 300), { signal })).toEqual({ type: 'success' })
    }
    const worker = createStreamWorker({ client, keyPrefix, store: table.store, batchSize: 250, logger: quiet })
    await until('all rows', async () => (await table.count()).rows === 1200)
    await until('the backlog to empty', async () => (await backlog(client, streamKeys({ keyPrefix }).stream, 'usertracking')) === 0)
    expect(await table.count()).toEqual({ rows: 1200, ids: 1200 })
    const stored = await table.store.list({ limit: 1000, sort: 'timestamp', order: 'asc' })
    expect(new Set(stored.items.map((item) => item.id)).size).toBe(1000)
    expect(written.map((item) => item.id)).toEqual(expect.arrayContaining(stored.items.map((item) => item.id)))
    await worker.stop()
    expect(worker.stats()).toMatchObject({ read: 1200, stored: 1200, deadLettered: 0, trimmed: 0 })
    await table.drop()
    await deletePrefix(client, keyPrefix)
  })

  it.skipIf(!target || !postgresAvailable)('keeps entries pending, unacknowledged, while the store fails, and stores them once it recovers', async () => {
    const client = createClient(target!)
    const keyPrefix = uniquePrefix()
    const table = await openTable()
    let failing = true
    const store = intercepted(table.store, () => (failing ? { type: 'retryable', error: new Error('database restarting') } : undefined))
    await redisStreamSink({ client, keyPrefix }).write(activities(40), { signal })
    const worker = createStreamWorker({ client, keyPrefix, store, batchSize: 40, retryBaseDelayMs: 20, retryMaxDelayMs: 50, logger: quiet })
    await until('two failed writes', () => worker.stats().retries >= 2)
    const { stream } = streamKeys({ keyPrefix })
    const pending = (await client.xpending(stream, 'usertracking')) as [number, ...unknown[]]
    expect(pending[0]).toBe(40)
    expect(await table.count()).toEqual({ rows: 0, ids: 0 })
    failing = false
    await until('the backlog to empty', async () => (await backlog(client, stream, 'usertracking')) === 0)
    expect(await table.count()).toEqual({ rows: 40, ids: 40 })
    await worker.stop()
    await table.drop()
    await deletePrefix(client, keyPrefix)
  })

  it.skipIf(!target)('moves to the dead-letter stream what it cannot store: an unreadable entry, the one activity the store refuses, an entry every consumer dropped', async () => {
    const client = createClient(target!)
    const keyPrefix = uniquePrefix()
    const keys = streamKeys({ keyPrefix })
    const store = memoryStore()
    const batch = activities(9)
    const poison = batch[4]!
    // First an entry two crashed consumers took and never acknowledged: six deliveries in all.
    await client.xgroup('CREATE', keys.stream, 'usertracking', '0', 'MKSTREAM')
    const [orphan] = activities(1)
    const orphanId = (await client.xadd(keys.stream, '*', 'activity', JSON.stringify(orphan)))!
    await client.xreadgroup('GROUP', 'usertracking', 'crashed-1', 'COUNT', 1, 'STREAMS', keys.stream, '>')
    for (let delivery = 2; delivery <= 6; delivery++) await client.call('XCLAIM', keys.stream, 'usertracking', `crashed-${delivery}`, 0, orphanId)
    await redisStreamSink({ client, keyPrefix }).write(batch, { signal })
    await client.xadd(keys.stream, '*', 'activity', '{not json')

    const refusing = intercepted(store, (items) =>
      items.some((item) => item.id === poison.id) ? { type: 'failure', error: new Error('value too long for column "description"') } : undefined,
    )
    const worker = createStreamWorker({ client, keyPrefix, store: refusing, batchSize: 100, claimIdleMs: 10, logger: quiet })
    await until('three dead letters', () => worker.stats().deadLettered === 3)
    await until('the backlog to empty', async () => (await backlog(client, keys.stream, 'usertracking')) === 0)
    expect(store.size).toBe(8)
    expect((await store.list({ limit: 100 })).items.map((item) => item.id)).not.toContain(poison.id)
    const letters = await deadLetters(client, keys.deadLetter)
    expect(letters).toHaveLength(3)
    expect(letters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ activity: '{not json', reason: 'The entry holds no activity this worker can read.' }),
        expect.objectContaining({ activity: JSON.stringify(poison), reason: expect.stringContaining('value too long for column "description"') }),
        expect.objectContaining({ entry: orphanId, reason: expect.stringContaining('Delivered more than 5 times') }),
      ]),
    )
    await worker.stop()
    await deletePrefix(client, keyPrefix)
  })

  it.skipIf(!target)('acknowledges and counts what the store rejects on purpose, without dead-lettering it', async () => {
    const client = createClient(target!)
    const keyPrefix = uniquePrefix()
    const store = memoryStore()
    await store.deleteActivities!({ userId: 'gone' })
    const [late] = activities(1, 'gone')
    // Tracked before the person was deleted, delivered after: the store refuses it.
    late!.timestamp = new Date(Date.now() - 60_000).toISOString()
    await redisStreamSink({ client, keyPrefix }).write([late!, ...activities(3)], { signal })
    const worker = createStreamWorker({ client, keyPrefix, store, logger: quiet })
    await until('four entries handled', () => worker.stats().stored + worker.stats().rejected === 4)
    await until('the backlog to empty', async () => (await backlog(client, streamKeys({ keyPrefix }).stream, 'usertracking')) === 0)
    expect(worker.stats()).toMatchObject({ stored: 3, rejected: 1, deadLettered: 0 })
    expect(store.size).toBe(3)
    await worker.stop()
    await deletePrefix(client, keyPrefix)
  })

  it.skipIf(!target)('stops gracefully: the batch in hand is stored and acknowledged, and the consumer leaves the group', async () => {
    const client = createClient(target!)
    const keyPrefix = uniquePrefix()
    const { stream } = streamKeys({ keyPrefix })
    const store = memoryStore()
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    let writing!: () => void
    const started = new Promise<void>((resolve) => (writing = resolve))
    const slow = intercepted(store, async () => {
      writing()
      await released
      return undefined
    })
    await redisStreamSink({ client, keyPrefix }).write(activities(20), { signal })
    const worker: StreamWorker = createStreamWorker({ client, keyPrefix, store: slow, logger: quiet })
    await started
    const stopping = worker.stop({ timeoutMs: 60_000 })
    release()
    await stopping
    expect(store.size).toBe(20)
    expect(await backlog(client, stream, 'usertracking')).toBe(0)
    const consumers = (await client.xinfo('CONSUMERS', stream, 'usertracking')) as unknown[][]
    expect(consumers.map((fields) => fields[1])).not.toContain(worker.consumer)
    await deletePrefix(client, keyPrefix)
  })
})
