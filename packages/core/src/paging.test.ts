import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Activity } from './activity'
import { memorySink } from './memory-sink'
import { memoryStorage, type Storage } from './storage'
import { createTracker } from './tracker'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

const padded = (index: number) => ({ activityType: `a${index}`, metadata: { index, padding: 'x'.repeat(1000), text: 'ünïcødé ✓' } })

/** `memoryStorage` with `spillJson`, recording what reached it and failing while `failing` says so. */
function jsonStorage(failing: () => boolean = () => false) {
  const inner = memoryStorage()
  const spilled: { count: number; activities: Activity[] }[] = []
  let plainSpills = 0
  const storage: Storage & { readonly size: number } = {
    get size() {
      return inner.size
    },
    load: (limit) => inner.load(limit),
    add: (activities) => inner.add(activities),
    remove: (ids) => inner.remove(ids),
    page: (limit) => inner.page!(limit),
    spill(activities) {
      plainSpills++
      return inner.spill!(activities)
    },
    async spillJson(json, count) {
      if (failing()) throw new Error('disk full')
      const activities = JSON.parse(new TextDecoder().decode(json)) as Activity[]
      spilled.push({ count, activities })
      await inner.spill!(activities)
    },
  }
  return { storage, spilled, plainSpills: () => plainSpills }
}

describe('paging through spillJson', () => {
  it('hands what does not fit to spillJson as the JSON of each activity, pages it back, and loses nothing, in order', async () => {
    const { storage, spilled, plainSpills } = jsonStorage()
    const sink = memorySink()
    const t = createTracker({ sinks: [sink], storage, batchSize: 5, maxQueueBytes: 10_000, warnings: false })
    const ids: string[] = []
    for (let index = 0; index < 3000; index++) ids.push(t.track(padded(index))!)
    const flushed = t.flush()
    await vi.advanceTimersByTimeAsync(1000)
    expect(await flushed).toBe(true)
    expect(plainSpills()).toBe(0)
    const stored = spilled.flatMap((write) => write.activities)
    // Everything past the window went through spillJson, each as it was tracked, counted right.
    expect(stored.length).toBeGreaterThan(2900)
    expect(spilled.every((write) => write.count === write.activities.length)).toBe(true)
    expect(stored).toEqual(sink.activities.slice(3000 - stored.length))
    expect(stored[0]!.metadata).toEqual(padded(3000 - stored.length).metadata)
    expect(sink.activities.map((activity) => activity.id)).toEqual(ids)
    expect(storage.size).toBe(0)
    expect(t.stats()).toMatchObject({ queued: 0, sent: 3000, dropped: 0 })
  })

  it('frees the bytes it lent spillJson once the write settles', async () => {
    const { storage } = jsonStorage()
    const lent: Uint8Array[] = []
    const spillJson = storage.spillJson!
    storage.spillJson = (json, count) => {
      lent.push(json)
      expect(json.byteLength).toBeGreaterThan(0)
      return spillJson(json, count)
    }
    const t = createTracker({ sinks: [memorySink()], storage, maxQueueBytes: 10_000, warnings: false })
    for (let index = 0; index < 500; index++) t.track(padded(index))
    const flushed = t.flush()
    await vi.advanceTimersByTimeAsync(1000)
    expect(await flushed).toBe(true)
    expect(lent.length).toBeGreaterThan(0)
    // Transferred away: the memory went with a buffer nothing references.
    for (const json of lent) expect(json.byteLength).toBe(0)
  })

  it('keeps what spillJson could not store in memory and delivers it, in order', async () => {
    let failing = true
    const { storage } = jsonStorage(() => failing)
    const errors: unknown[] = []
    const sink = memorySink()
    const t = createTracker({ sinks: [sink], storage, batchSize: 5, maxQueueBytes: 10_000, warnings: false, onError: (error) => errors.push(error) })
    const ids: string[] = []
    for (let index = 0; index < 500; index++) ids.push(t.track(padded(index))!)
    const flushed = t.flush()
    await vi.advanceTimersByTimeAsync(1000)
    expect(await flushed).toBe(true)
    expect(errors.length).toBeGreaterThan(0)
    for (const error of errors) expect(error).toMatchObject({ message: expect.stringContaining('Could not store activities; they stay in memory.') })
    expect(sink.activities.map((activity) => activity.id)).toEqual(ids)
    expect(t.stats()).toMatchObject({ queued: 0, sent: 500, dropped: 0 })

    // The storage works again: the next burst pages through it.
    failing = false
    const later: string[] = []
    for (let index = 0; index < 500; index++) later.push(t.track(padded(index))!)
    const again = t.flush()
    await vi.advanceTimersByTimeAsync(1000)
    expect(await again).toBe(true)
    expect(sink.activities.map((activity) => activity.id)).toEqual([...ids, ...later])
  })
})
