/**
 * The conformance suite every {@link Storage} must pass, so that a tracker over it resumes exactly
 * what was pending after a restart. A storage's own test file calls
 * {@link describeStorageConformance} once; the suite registers its vitest tests. What it pins down:
 *
 * - `load` returns what was added and not removed, oldest first, also after a reopen.
 * - Writes are idempotent by id: an activity added twice is stored once.
 * - `remove` ignores ids it does not hold.
 * - Paging, when the storage has `spill` and `page`: `load(limit)` hands out the oldest `limit`,
 *   `page` the rest and what was spilled since, in order and each once; what was paged and not
 *   removed survives a reopen.
 * - `spillJson`, when the storage has it: spilled bytes page back as the activities they encode, in
 *   order with those passed to `spill`, and the storage keeps its own copy (the bytes are only lent).
 * - `addSync` and `spillJsonSync`, when the storage has them: called while no other call is under
 *   way, they store before they return, in order with the promise forms, also after a reopen.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { normalizeActivity } from '@usertracking/core'
import type { Activity, Storage } from '@usertracking/core'

/** How the suite gets the storage under test. */
export interface StorageFixture {
  /** A new storage holding no activities. */
  create(): Storage | Promise<Storage>
  /**
   * The storage as the next tracker (or the next process) sees it once `previous` was closed: the
   * same instance for an in-memory storage, a new one over the same files for a persistent one.
   */
  reopen(previous: Storage): Storage | Promise<Storage>
  /** Removes what the storage created (files, databases), after each test. */
  cleanup?(): void | Promise<void>
  /** Whether the storage pages (has `spill` and `page`); its paging tests are registered then. */
  paging?: boolean
  /** Whether the paging storage also has `spillJson`; its test is registered then. */
  spillJson?: boolean
  /** Whether the paging storage also has `addSync` and `spillJsonSync`; their test is registered then. */
  syncWrites?: boolean
}

function activities(count: number, tag = 'conformance'): Activity[] {
  return Array.from({ length: count }, (_, index) => {
    const result = normalizeActivity({ activityType: tag, userId: `u${index}`, metadata: { index, tag } })
    if (!result.ok) throw new Error('invalid conformance activity')
    return result.activity
  })
}

const ids = (list: Activity[]) => list.map((activity) => activity.id)

/**
 * Registers the storage conformance suite.
 *
 * @param name - names the storage in the test titles.
 * @param fixture - see {@link StorageFixture}.
 */
export function describeStorageConformance(name: string, fixture: StorageFixture): void {
  describe(`Storage conformance: ${name}`, () => {
    afterEach(async () => {
      await fixture.cleanup?.()
    })

    async function reopened(storage: Storage): Promise<Storage> {
      await storage.close?.()
      return fixture.reopen(storage)
    }

    it('loads nothing when new', async () => {
      const storage = await fixture.create()
      expect(await storage.load()).toEqual([])
      await storage.close?.()
    })

    it('loads what was added and not removed, oldest first, after a reopen', async () => {
      const storage = await fixture.create()
      await storage.load()
      const [a, b, c, d] = activities(4)
      await storage.add([a!, b!])
      await storage.add([c!])
      await storage.remove([b!.id])
      await storage.add([d!])
      const next = await reopened(storage)
      expect(await next.load()).toEqual([a, c, d])
      await next.close?.()
    })

    it('stores an activity added twice once', async () => {
      const storage = await fixture.create()
      await storage.load()
      const [a, b] = activities(2)
      await storage.add([a!, b!])
      await storage.add([a!])
      const next = await reopened(storage)
      expect(ids(await next.load()).sort()).toEqual(ids([a!, b!]).sort())
      await next.close?.()
    })

    it('ignores ids it does not hold on remove', async () => {
      const storage = await fixture.create()
      await storage.load()
      const [a] = activities(1)
      await storage.add([a!])
      await expect(storage.remove(['not-an-id', '01890a5d-ac96-774b-bcce-b302099a8057'])).resolves.toBeUndefined()
      await storage.remove([a!.id])
      await storage.remove([a!.id])
      const next = await reopened(storage)
      expect(await next.load()).toEqual([])
      await next.close?.()
    })

    // Paging is optional; a storage without it is held to the tests above only.
    if (!fixture.paging) return

    it('pages: load(limit) hands out the oldest, page() the rest in order, each once', async () => {
      const storage = await fixture.create()
      expect(typeof storage.spill).toBe('function')
      expect(typeof storage.page).toBe('function')
      await storage.load()
      const stored = activities(5)
      await storage.add(stored)
      const next = await reopened(storage)
      expect(await next.load(2)).toEqual(stored.slice(0, 2))
      expect(await next.page!(2)).toEqual(stored.slice(2, 4))
      expect(await next.page!(2)).toEqual(stored.slice(4))
      expect(await next.page!(2)).toEqual([])
      await next.close?.()
    })

    it('pages: hands spilled activities back in order, and keeps what was paged and not removed', async () => {
      const storage = (await fixture.create()) as Required<Storage>
      expect(await storage.load(10)).toEqual([])
      const [held] = activities(1, 'held')
      await storage.add([held!])
      const spilled = activities(2500, 'spilled')
      for (let start = 0; start < spilled.length; start += 1000) await storage.spill(spilled.slice(start, start + 1000))
      const paged: Activity[] = []
      for (let page = await storage.page(700); page.length > 0; page = await storage.page(700)) paged.push(...page)
      expect(ids(paged)).toEqual(ids(spilled))
      await storage.remove([held!.id, ...ids(spilled.slice(0, 2000))])
      const next = await reopened(storage)
      const resumed: Activity[] = [...(await next.load(100))]
      expect(resumed).toHaveLength(100)
      for (let page = await next.page!(1000); page.length > 0; page = await next.page!(1000)) resumed.push(...page)
      expect(ids(resumed)).toEqual(ids(spilled.slice(2000)))
      await next.close?.()
    }, 30_000)

    if (fixture.spillJson) it('pages: spillJson stores the activities its bytes encode, in order with spill, without keeping the lent bytes', async () => {
      const storage = (await fixture.create()) as Storage
      expect(typeof storage.spillJson).toBe('function')
      expect(await storage.load(10)).toEqual([])
      const first = activities(3, 'json-first')
      const middle = activities(2, 'plain-middle')
      const last = activities(4, 'json-last')
      const lend = async (list: Activity[]) => {
        const bytes = new TextEncoder().encode(JSON.stringify(list))
        await storage.spillJson!(bytes, list.length)
        // The tracker reuses or frees the bytes once the promise settles; the storage must not see that.
        bytes.fill(0x20)
      }
      await lend(first)
      await storage.spill!(middle)
      await lend(last)
      const expected = [...first, ...middle, ...last]
      expect(await storage.page!(100)).toEqual(expected)
      const next = await reopened(storage)
      const resumed = [...(await next.load(2))]
      for (let page = await next.page!(100); page.length > 0; page = await next.page!(100)) resumed.push(...page)
      expect(resumed).toEqual(expected)
      await next.close?.()
    })

    if (fixture.syncWrites) it('pages: addSync and spillJsonSync store before they return, in order with add and spill', async () => {
      const storage = (await fixture.create()) as Required<Storage>
      expect(await storage.load(10)).toEqual([])
      const added = activities(2, 'added')
      const addedAtOnce = activities(2, 'added-at-once')
      const spilledAtOnce = activities(3, 'spilled-at-once')
      const spilled = activities(2, 'spilled')
      await storage.add(added)
      expect(storage.addSync(addedAtOnce)).toBe(true)
      const bytes = new TextEncoder().encode(JSON.stringify(spilledAtOnce))
      expect(storage.spillJsonSync(bytes, spilledAtOnce.length)).toBe(true)
      // Lent for the call only.
      bytes.fill(0x20)
      await storage.spill(spilled)
      expect(await storage.page(100)).toEqual([...spilledAtOnce, ...spilled])
      const next = await reopened(storage)
      const resumed = [...(await next.load(100))]
      for (let page = await next.page!(100); page.length > 0; page = await next.page!(100)) resumed.push(...page)
      expect(ids(resumed)).toEqual(ids([...added, ...addedAtOnce, ...spilledAtOnce, ...spilled]))
      await next.close?.()
    })
  })
}
