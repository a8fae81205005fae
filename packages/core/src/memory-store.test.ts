import { describe, expect, it } from 'vitest'
import { describeStoreConformance } from '../../testkit/src/index'
import { memoryStore } from './memory-store'

describeStoreConformance('memoryStore', async () => ({ store: memoryStore(), cleanup: async () => {} }))

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
})
