import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createStreamWorker } from '../src/stream-worker'
import { closeClients, createClient, deletePrefix, uniquePrefix } from './clients'
import { redisModes } from './modes'
import { databaseUrl, openTable, postgresAvailable } from './postgres'
import { startFixture, type FixtureProcess } from './processes'
import { openLiveStream, type LiveStream } from './sse'

type Urls = { direct: string; buffered: string }

const cleanup: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})
afterAll(closeClients)

async function post(url: string, activities: object[], token: string): Promise<string[]> {
  const response = await fetch(`${url}/api/activity`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(activities),
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { ids: string[] }).ids
}

const modes = redisModes().map((mode, index) => ({
  ...mode,
  // One run without the store's own push (only the bus links the instances), one with whatever the store offers beside the bus.
  storeSubscribe: index === 1,
  links: index === 1 ? "the bus, beside the store's own push where it has one" : 'the bus alone',
}))

describe.each(modes)('three server processes on $name, linked by $links', ({ target, storeSubscribe }) => {
  it.skipIf(!target || !postgresAvailable)(
    'an SSE client on the first sees what the second and third ingested, directly and through the buffer, exactly once',
    async () => {
      const keyPrefix = uniquePrefix()
      const table = await openTable()
      cleanup.push(() => table.drop())
      const config = { target, keyPrefix, schema: table.schema, databaseUrl, storeSubscribe }
      const instances: FixtureProcess<Urls>[] = await Promise.all([1, 2, 3].map(() => startFixture<Urls>('instance-process', config)))
      cleanup.push(() => Promise.all(instances.map((instance) => instance.stop())))
      const [first, second, third] = instances.map((instance) => instance.info) as [Urls, Urls, Urls]
      const streams: LiveStream[] = await Promise.all([
        openLiveStream(first.direct, 'admin'),
        openLiveStream(first.buffered, 'admin'),
        openLiveStream(first.direct, 'alice'),
      ])
      cleanup.push(() => streams.forEach((stream) => stream.close()))
      const [adminDirect, adminBuffered, alice] = streams as [LiveStream, LiveStream, LiveStream]

      const publishers = [second.direct, second.buffered, third.direct, third.buffered]
      const byAlice: string[] = []
      const byBob: string[] = []
      for (const [index, url] of publishers.entries()) {
        byAlice.push(...(await post(url, [{ activityType: `alice-${index}` }], 'alice')))
        byBob.push(...(await post(url, [{ activityType: `bob-${index}-a` }, { activityType: `bob-${index}-b` }], 'bob')))
      }
      const expected = [...byAlice, ...byBob].sort()
      for (const stream of [adminDirect, adminBuffered]) for (const id of expected) await stream.waitFor(id)
      for (const id of byAlice) await alice.waitFor(id)

      // Each once: a second copy (through the store's push, or an echo) would sit in these lists.
      for (const stream of [adminDirect, adminBuffered]) expect(stream.activities.map((activity) => activity.id).sort()).toEqual(expected)
      expect(alice.activities.map((activity) => activity.id).sort()).toEqual([...byAlice].sort())
      expect(new Set(alice.activities.map((activity) => activity.userId))).toEqual(new Set(['alice']))

      // The buffered half reaches PostgreSQL through a worker; every activity is stored once.
      const client = createClient(target!)
      const worker = createStreamWorker({ client, keyPrefix, store: table.store, logger: { debug() {}, warn() {}, error() {} } })
      cleanup.push(() => deletePrefix(client, keyPrefix))
      cleanup.push(() => worker.stop())
      const deadline = Date.now() + 60_000
      while ((await table.count()).rows < expected.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      expect(await table.count()).toEqual({ rows: expected.length, ids: expected.length })
    },
  )
})
