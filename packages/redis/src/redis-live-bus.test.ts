import { memoryStore, type Logger, type Store } from '@usertracking/core'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { closeClients, createClient, uniquePrefix } from '../test/clients'
import { redisModes } from '../test/modes'
import { startInstance, type Instance } from '../test/instance'
import { redisBinariesInstalled, startRedisServer, type OwnRedisServer } from '../test/redis-servers'
import { openLiveStream, type LiveStream } from '../test/sse'
import { redisLiveBus, type RedisLiveBus } from './redis-live-bus'

const open: { close(): unknown }[] = []
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close()
})
afterAll(closeClients)

/** A memory store that cannot push, as PostgreSQL without LISTEN / NOTIFY: only the bus carries activities between instances. */
function storeWithoutSubscribe(): Store {
  const { subscribe: _subscribe, ...store } = memoryStore()
  return store
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = []
  return { warnings, debug: () => {}, error: () => {}, warn: (message: string) => warnings.push(message) }
}

async function instance(options: Parameters<typeof startInstance>[0]): Promise<Instance> {
  const started = await startInstance(options)
  open.push(started)
  return started
}

async function stream(url: string, token: string, lastEventId?: string): Promise<LiveStream> {
  const opened = await openLiveStream(url, token, lastEventId)
  open.push(opened)
  return opened
}

/** A bus, subscribed: what pub/sub publishes before that reaches no one. */
async function bus(options: Parameters<typeof redisLiveBus>[0]): Promise<RedisLiveBus> {
  const created = redisLiveBus(options)
  open.push(created)
  await created.ready
  return created
}

/** Waits until every one of `ids` arrived on `stream`; a Cluster may deliver one instance's publishes out of order. */
async function arrived(stream: LiveStream, ids: string[]): Promise<void> {
  for (const id of ids) await stream.waitFor(id)
}

const sortedTypes = (item: LiveStream) => item.activities.map((activity) => activity.activityType).sort()

describe.each(redisModes())('redisLiveBus on $name', ({ target }) => {
  it.skipIf(!target)("streams what another instance ingested, once, per user, and resumes with Last-Event-ID", async () => {
    const store = storeWithoutSubscribe()
    const keyPrefix = uniquePrefix()
    const first = await instance({ store, bus: await bus({ client: createClient(target!), keyPrefix }) })
    const second = await instance({ store, bus: await bus({ client: createClient(target!), keyPrefix }) })
    const admin = await stream(first.url, 'admin')
    const alice = await stream(first.url, 'alice')
    const [toAlice] = (await second.post([{ activityType: 'for-alice' }], 'alice')).ids
    const [toBob] = (await second.post([{ activityType: 'for-bob' }], 'bob')).ids
    await arrived(admin, [toAlice!, toBob!])
    await alice.waitFor(toAlice!)
    expect(sortedTypes(admin)).toEqual(['for-alice', 'for-bob'])
    // Both reached this instance (the admin stream has them), and every stream on it was offered both.
    expect(alice.activities.map((activity) => activity.userId)).toEqual(['alice'])

    // Away for a while: what the other instance ingested meanwhile is replayed from the backlog.
    admin.close()
    const missed = (await second.post([{ activityType: 'missed-1' }, { activityType: 'missed-2' }])).ids
    await alice.waitFor(toAlice!)
    const back = await stream(first.url, 'admin', admin.lastEventId)
    await back.waitFor(missed[1]!)
    expect(back.activities.map((activity) => activity.id)).toEqual(missed)
  })
})

describe('redisLiveBus beside a store that pushes', () => {
  const { target } = redisModes()[0]!
  it.skipIf(!target)('sends an activity that reaches an instance by both paths once', async () => {
    // One memory store for both instances: its subscribe pushes each write to both, as LISTEN / NOTIFY would.
    const store = memoryStore()
    const keyPrefix = uniquePrefix()
    const first = await instance({ store, bus: await bus({ client: createClient(target!), keyPrefix }) })
    const second = await instance({ store, bus: await bus({ client: createClient(target!), keyPrefix }) })
    const live = await stream(first.url, 'admin')
    const fromSecond = (await second.post([{ activityType: 'a' }, { activityType: 'b' }])).ids
    const fromFirst = (await first.post([{ activityType: 'c' }])).ids
    await arrived(live, [...fromSecond, ...fromFirst])
    expect(sortedTypes(live)).toEqual(['a', 'b', 'c'])
  })
})

describe.skipIf(!redisBinariesInstalled())('redisLiveBus when Redis goes away', () => {
  let server: OwnRedisServer | undefined
  afterEach(async () => {
    await server?.stop()
    server = undefined
  })

  it('keeps streaming this instance’s own activities, warns once, and reaches the others again by itself', async () => {
    server = await startRedisServer()
    const target = { mode: 'standalone' as const, server }
    const store = storeWithoutSubscribe()
    const logger = recordingLogger()
    const first = await instance({ store, bus: await bus({ client: createClient(target, { retryDelayMs: 100 }), logger }) })
    const second = await instance({ store, bus: await bus({ client: createClient(target, { retryDelayMs: 100 }), logger }) })
    const live = await stream(first.url, 'admin')
    await arrived(live, (await second.post([{ activityType: 'before' }])).ids)

    await server.crash()
    const local = await first.post([{ activityType: 'while-redis-is-down' }])
    expect(local.status).toBe(200)
    await live.waitFor(local.ids[0]!)
    const more = await first.post([{ activityType: 'still-down' }])
    await live.waitFor(more.ids[0]!)
    expect(logger.warnings.filter((warning) => warning.includes('Live delivery is local to this instance'))).toHaveLength(1)

    await server.restart()
    // Until the second instance's client has reconnected its publishes stay local; then one arrives.
    const deadline = Date.now() + 30_000
    let reached = false
    while (!reached) {
      if (Date.now() > deadline) throw new Error('No activity from the second instance arrived after Redis came back.')
      const { ids } = await second.post([{ activityType: 'after-restart' }])
      reached = await live.waitFor(ids[0]!, 500).then(() => true, () => false)
    }
    expect(logger.warnings).toContain("[usertracking] [redis] The live bus subscription lost Redis; other instances' activities pause until it is back.")
    expect(logger.warnings).toContain('[usertracking] [redis] The live bus subscription is back.')
  })
})
