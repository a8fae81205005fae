import { describe, expect, it } from 'vitest'
import { describeStoreConformance } from '../../testkit/src/index'
import { memoryStore } from './memory-store'

describeStoreConformance('memoryStore', async (options) => ({ store: memoryStore(options), cleanup: async () => {} }))

describe('memoryStore', () => {
  const signal = new AbortController().signal

  it('stamps receivedAt from its clock', async () => {
    const store = memoryStore({ now: () => Date.UTC(2025, 0, 1) })
    await store.sink.write([{ id: crypto.randomUUID(), activityType: 'a', timestamp: '2024-12-31T00:00:00.000Z' }], { signal })
    const { items } = await store.list()
    expect(items[0]!.receivedAt).toBe('2025-01-01T00:00:00.000Z')
  })

  it('keeps its rows from changes made by the writer or a reader', async () => {
    const store = memoryStore()
    const activity = { id: crypto.randomUUID(), activityType: 'a', timestamp: '2024-12-31T00:00:00.000Z', metadata: { n: 1 } }
    await store.sink.write([activity], { signal })
    activity.metadata.n = 2
    const first = await store.list()
    first.items[0]!.metadata!.n = 3
    const second = await store.list()
    expect(second.items[0]!.metadata).toEqual({ n: 1 })
  })

  it('asks for a retry when the write was already aborted', async () => {
    const store = memoryStore()
    const controller = new AbortController()
    controller.abort()
    const result = await store.sink.write([{ id: crypto.randomUUID(), activityType: 'a', timestamp: '2024-12-31T00:00:00.000Z' }], {
      signal: controller.signal,
    })
    expect(result.type).toBe('retryable')
    expect(store.size).toBe(0)
  })

  it('keeps delivering to other subscribers when one throws', async () => {
    const store = memoryStore()
    const received: string[] = []
    store.subscribe!({}, () => {
      throw new Error('subscriber bug')
    })
    store.subscribe!({}, (activities) => received.push(...activities.map((activity) => activity.id)))
    const id = crypto.randomUUID()
    const result = await store.sink.write([{ id, activityType: 'a', timestamp: '2024-12-31T00:00:00.000Z' }], { signal })
    expect(result.type).toBe('success')
    expect(received).toEqual([id])
  })

  it('forgets identity links older than maxAgeDays, so later anonymous activities stay anonymous', async () => {
    let clock = Date.UTC(2025, 0, 1)
    const store = memoryStore({ now: () => clock, retention: { maxAgeDays: 10, runInBackground: false } })
    await store.identify({ userId: 'u', anonymousId: 'a' })
    clock += 9 * 86_400_000
    await store.expireActivities()
    const visit = (at: number) => ({ id: crypto.randomUUID(), activityType: 'visit', anonymousId: 'a', timestamp: new Date(at).toISOString() })
    const linked = visit(clock)
    await store.sink.write([linked], { signal })
    clock += 2 * 86_400_000
    await store.expireActivities()
    const unlinked = visit(clock)
    await store.sink.write([unlinked], { signal })
    const { items } = await store.list({ anonymousId: 'a' })
    expect(items.map((item) => [item.id, item.userId])).toEqual([
      [unlinked.id, undefined],
      [linked.id, 'u'],
    ])
  })

  it('expires by its own clock, one day past maxAgeDays but not one day before', async () => {
    let clock = Date.UTC(2025, 0, 31)
    const store = memoryStore({ now: () => clock, retention: { maxAgeDays: 30, runInBackground: false } })
    const day = 86_400_000
    const old = { id: crypto.randomUUID(), activityType: 'a', timestamp: new Date(clock - 31 * day).toISOString() }
    const young = { id: crypto.randomUUID(), activityType: 'a', timestamp: new Date(clock - 29 * day).toISOString() }
    await store.sink.write([old, young], { signal })
    expect(await store.expireActivities()).toEqual({ deleted: 1 })
    expect((await store.list()).items.map((item) => item.id)).toEqual([young.id])
    clock += 2 * day
    expect(await store.expireActivities()).toEqual({ deleted: 1 })
    expect(store.size).toBe(0)
  })

  it('refuses a retention option it cannot use, naming the field', () => {
    expect(() => memoryStore({ retention: { maxAgeDays: 0 } })).toThrow('options.retention.maxAgeDays')
    expect(() => memoryStore({ retention: { maxAgeDays: 30, intervalMs: 0 } })).toThrow('options.retention.intervalMs')
    expect(() => memoryStore({ retention: 'forever' as never })).toThrow(TypeError)
  })
})
