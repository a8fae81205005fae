import 'fake-indexeddb/auto'
import { uuidv7, type Activity } from '@usertracking/core'
import { createStore, keys } from 'idb-keyval'
import { afterEach, describe, expect, it } from 'vitest'
import { indexedDbStorage } from './indexeddb-storage'

let database = 0
let name = ''

function activity(activityType: string, metadata: Activity['metadata'] = {}): Activity {
  return { id: uuidv7(), activityType, timestamp: new Date().toISOString(), metadata }
}

function storedIds(): Promise<string[]> {
  return keys<string>(createStore(name, 'activities'))
}

afterEach(() => {
  name = `test-${++database}`
})
name = `test-${database}`

describe('indexedDbStorage', () => {
  it('keeps what was added and not removed for the next page, one record per activity', async () => {
    const first = indexedDbStorage({ name })
    expect(await first.load()).toEqual([])
    const [a, b, c] = [activity('a'), activity('b'), activity('c')]
    await first.add([a!, b!])
    await first.add([c!])
    await first.remove([b!.id])
    expect((await storedIds()).sort()).toEqual([a!.id, c!.id].sort())

    // Without the Web Locks API a new page takes over everything still stored.
    const reloaded = indexedDbStorage({ name })
    expect(await reloaded.load()).toEqual([a, c])
  })

  it('reports every activity still owed, including those not yet added, oldest first', async () => {
    const storage = indexedDbStorage({ name })
    await storage.load()
    const [a, b] = [activity('a'), activity('b')]
    storage.hold(a!)
    storage.hold(b!)
    await storage.add([a!])
    expect(storage.pending()).toEqual([a, b])
  })

  it('forgets activities sent by beacon as the page leaves, in IndexedDB and in a later add', async () => {
    const storage = indexedDbStorage({ name })
    await storage.load()
    const [a, b] = [activity('a'), activity('b')]
    await storage.add([a!])
    storage.hold(b!)
    storage.leave([a!.id, b!.id])
    await storage.add([b!])
    expect(storage.pending()).toEqual([])
    expect(await storedIds()).toEqual([])
  })

  it('keeps in localStorage, as the page leaves, what IndexedDB does not hold yet, and the next page stores and sends it', async () => {
    const storage = indexedDbStorage({ name })
    await storage.load()
    const [stored, beaconed, unstored] = [activity('stored'), activity('beaconed'), activity('time_on_page')]
    await storage.add([stored!])
    // Tracked as the page closes: its IndexedDB write never starts (or never lands).
    storage.hold(beaconed!)
    storage.hold(unstored!)
    storage.leave([beaconed!.id])
    expect(Object.keys(localStorage).filter((key) => key.includes(`${name}:unstored:`))).toHaveLength(1)

    const next = indexedDbStorage({ name })
    expect(await next.load()).toEqual([stored, unstored])
    expect((await storedIds()).sort()).toEqual([stored!.id, unstored!.id].sort())
    expect(Object.keys(localStorage).filter((key) => key.includes(name))).toEqual([])
  })

  it('does not send again on the next page what was acknowledged just before the page closed', async () => {
    const storage = indexedDbStorage({ name })
    await storage.load()
    const [acknowledged, owed] = [activity('acknowledged'), activity('owed')]
    await storage.add([acknowledged!, owed!])
    // The delete is under way when the page goes: the next page must not see the record as owed.
    void storage.remove([acknowledged!.id])
    storage.leave([])
    expect(await indexedDbStorage({ name }).load()).toEqual([owed])
  })

  it('clear() deletes every stored activity and localStorage record, so the next page finds none', async () => {
    const storage = indexedDbStorage({ name })
    await storage.load()
    const [a, b] = [activity('a'), activity('b')]
    await storage.add([a!])
    storage.hold(b!)
    storage.leave([])
    await storage.clear()
    expect(storage.pending()).toEqual([])
    expect(await storedIds()).toEqual([])
    expect(Object.keys(localStorage).filter((key) => key.includes(name))).toEqual([])
    expect(await indexedDbStorage({ name }).load()).toEqual([])
  })

  it('keeps activities in memory past maxBytes, and warns once', async () => {
    const warnings: string[] = []
    const storage = indexedDbStorage({ name, maxBytes: 400, logger: { warn: (message) => warnings.push(message) } })
    await storage.load()
    const big = [activity('a', { text: 'x'.repeat(200) }), activity('b', { text: 'x'.repeat(200) }), activity('c', { text: 'x'.repeat(200) })]
    await storage.add(big)
    expect(await storedIds()).toEqual([big[0]!.id])
    expect(storage.pending()).toEqual(big)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/\[indexeddb\] Over maxBytes \(400\)\. Pending activities are kept in memory only\./)
    // Removing stored activities makes room again.
    await storage.remove([big[0]!.id])
    const next = activity('d')
    await storage.add([next])
    expect(await storedIds()).toEqual([next.id])
  })

})

describe('indexedDbStorage when IndexedDB is full', () => {
  it('keeps activities in memory after a QuotaExceededError, with one warning', async () => {
    const warnings: string[] = []
    const storage = indexedDbStorage({ name, logger: { warn: (message) => warnings.push(message) } })
    await storage.load()
    const put = IDBObjectStore.prototype.put
    // The browser's quota, rehearsed: fake-indexeddb has none.
    IDBObjectStore.prototype.put = () => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
    }
    try {
      const [a, b] = [activity('a'), activity('b')]
      await storage.add([a])
      await storage.add([b])
      expect(storage.pending()).toEqual([a, b])
      expect(warnings).toEqual(['[indexeddb] IndexedDB failed. Pending activities are kept in memory only.'])
      await storage.remove([a.id])
      expect(storage.pending()).toEqual([b])
    } finally {
      IDBObjectStore.prototype.put = put
    }
  })
})

describe('indexedDbStorage without IndexedDB', () => {
  it('falls back to memory with one warning', async () => {
    const original = globalThis.indexedDB
    // Some private modes have no IndexedDB at all.
    delete (globalThis as { indexedDB?: IDBFactory }).indexedDB
    try {
      const warnings: string[] = []
      const storage = indexedDbStorage({ name, logger: { warn: (message) => warnings.push(message) } })
      expect(await storage.load()).toEqual([])
      const a = activity('a')
      await storage.add([a])
      expect(storage.pending()).toEqual([a])
      await storage.remove([a.id])
      expect(storage.pending()).toEqual([])
      expect(warnings).toEqual(['[indexeddb] IndexedDB failed. Pending activities are kept in memory only.'])
    } finally {
      globalThis.indexedDB = original
    }
  })
})
