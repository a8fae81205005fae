import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { streamKeys } from '../src/keys'
import { redisStreamSink } from '../src/redis-stream-sink'
import { createStreamWorker } from '../src/stream-worker'
import { closeClients, createClient, deletePrefix, uniquePrefix } from './clients'
import { startInstance } from './instance'
import { redisModes } from './modes'
import { databaseUrl, openTable, postgresAvailable, uniqueSchema } from './postgres'
import { startStallProxy } from './stall-proxy'

const cleanup: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})
afterAll(closeClients)

const STALL_MS = 5000

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('a 5 s PostgreSQL stall behind the Redis buffer', () => {
  const { target } = redisModes()[0]!
  it.skipIf(!target || !postgresAvailable)('keeps ingest answering 2xx, and the backlog drains once the database answers again', async () => {
    const database = new URL(databaseUrl)
    const proxy = await startStallProxy({ host: database.hostname, port: Number(database.port || 5432) })
    cleanup.push(() => proxy.close())
    const throughProxy = new URL(databaseUrl)
    throughProxy.hostname = '127.0.0.1'
    throughProxy.port = String(proxy.port)
    const table = await openTable(uniqueSchema(), throughProxy.toString())
    cleanup.push(() => table.drop())
    const client = createClient(target!)
    const keyPrefix = uniquePrefix()
    cleanup.push(() => deletePrefix(client, keyPrefix))
    const instance = await startInstance({ store: table.store, sink: redisStreamSink({ client, keyPrefix }) })
    cleanup.push(() => instance.close())
    const worker = createStreamWorker({ client, keyPrefix, store: table.store, batchSize: 200, logger: { debug() {}, warn() {}, error() {} } })
    cleanup.push(() => worker.stop())
    const batch = (label: string) => Array.from({ length: 20 }, (_, index) => ({ activityType: label, metadata: { index } }))

    for (let request = 0; request < 5; request++) expect((await instance.post(batch('before'))).status).toBe(200)
    await until('the first 100 rows', async () => (await table.count()).rows === 100)

    proxy.stall()
    const stalledAt = Date.now()
    const statuses: number[] = []
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(Array.from({ length: 4 }, () => instance.post(batch('during'))))
      statuses.push(...answers.map((answer) => answer.status))
    }
    expect(statuses).toEqual(Array.from({ length: 20 }, () => 200))
    // Held back: the database has not seen one of them, and the worker holds or waits on all 400.
    expect((await table.count()).rows).toBe(100)
    const { stream } = streamKeys({ keyPrefix })
    const groups = (await client.xinfo('GROUPS', stream)) as unknown[][]
    const fields = new Map(Array.from({ length: groups[0]!.length / 2 }, (_, index) => [groups[0]![index * 2], groups[0]![index * 2 + 1]]))
    expect(Number(fields.get('pending')) + Number(fields.get('lag'))).toBe(400)

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, STALL_MS - (Date.now() - stalledAt))))
    proxy.resume()
    await until('the backlog to drain', async () => (await table.count()).rows === 500)
    expect(await table.count()).toEqual({ rows: 500, ids: 500 })
  })
})
