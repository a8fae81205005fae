import type { Activity, Logger, Storage } from '@usertracking/core'
import { uuidv7 } from '@usertracking/core'
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval'
import { localKeys, readLocal, writeLocal } from './local-storage'

/** Options of {@link indexedDbStorage}. */
export interface IndexedDbStorageOptions {
  /** Name of the IndexedDB database (and prefix of the Web Locks it takes). @default 'usertracking' */
  name?: string
  /**
   * Most pending activities kept in IndexedDB, in bytes of their JSON (UTF-16 code units, which is
   * bytes for ASCII). Past it, new activities are kept in memory only. @default 5000000 — about
   * 10,000 typical activities, the tracker's own queue bound, and far below any browser's quota.
   */
  maxBytes?: number
  /** Receives the warning when IndexedDB cannot be used or is full. */
  logger?: Pick<Logger, 'warn'>
}

/**
 * The tracker's {@link Storage} in a page, plus what the page needs to hand pending activities to
 * a beacon when it is hidden.
 */
export interface PageStorage extends Storage {
  /** Records an activity the tracker accepted but has not passed to `add` yet. */
  hold(activity: Activity): void
  /** Every activity this page still owes delivery of, oldest first. */
  pending(): Activity[]
  /** Forgets activities delivered outside the tracker (by a beacon); a later `add` of them is ignored. */
  forget(ids: string[]): void
  /** Makes the next `load` wait for `previous` (the shutdown of the tracker this storage served before). */
  after(previous: Promise<unknown>): void
}

interface Row {
  /** The activity. */
  a: Activity
  /** The tab that owes its delivery. */
  o: string
}

const byId = (left: Activity, right: Activity) => (left.id < right.id ? -1 : 1)
const noop = () => {}

/** Puts `rows` and deletes `ids` in one transaction. */
const write = (store: UseStore, rows: [string, Row][], ids: string[] = []) =>
  store('readwrite', (objects) => {
    for (const [id, row] of rows) objects.put(row, id)
    for (const id of ids) objects.delete(id)
    return promisifyRequest(objects.transaction)
  })

/**
 * A {@link Storage} in IndexedDB (through idb-keyval), one record per activity: `add` and `remove`
 * touch only the records they name, never the whole queue.
 *
 * Tabs of one site share the database without sending an activity twice: each tab holds a Web
 * Lock for as long as it lives, each record names the tab that owes it, and `load` takes over only
 * records whose tab is gone, under a second lock so that two tabs opening at once never both take
 * the same record. Without the Web Locks API (before Safari 15.4) every record is taken, so
 * delivery stays at-least-once.
 *
 * Activities that left by beacon as the page closed are forgotten at once; because IndexedDB drops
 * writes begun while a page is closing, their ids also go to `localStorage`, and the tab that takes
 * the records over deletes them instead of sending them again.
 *
 * Without IndexedDB (some private modes), on a `QuotaExceededError` or any other failure, pending
 * activities are kept in memory and a warning goes to the logger, once.
 *
 * @param options - see {@link IndexedDbStorageOptions}.
 */
export function indexedDbStorage(options: IndexedDbStorageOptions = {}): PageStorage {
  const name = options.name ?? 'usertracking'
  const maxBytes = options.maxBytes ?? 5_000_000
  const tabLock = `${name}:tab:`
  const tab = uuidv7()
  const beaconedKey = `${name}:beaconed:`
  /** Activities added (or loaded) and not removed, with their bytes in IndexedDB (0 if only in memory). */
  const held = new Map<string, [Activity, number]>()
  /** Activities accepted by the tracker and not yet added. */
  const fresh = new Map<string, Activity>()
  const forgotten = new Set<string>()
  let bytes = 0
  let previous: Promise<unknown> = Promise.resolve()
  let opened = false
  let db: UseStore | undefined
  let warned = false

  // Once: a full or broken IndexedDB stays so, and a warning per activity would flood the console.
  const warn = (message: string, error?: unknown) => {
    if (!warned) options.logger?.warn(`[indexeddb] ${message} Pending activities are kept in memory only.`, error)
    warned = true
  }
  const fail = (error: unknown) => {
    db = undefined
    warn('IndexedDB failed.', error)
  }
  const keep = (activity: Activity, size: number) => {
    held.set(activity.id, [activity, size])
    bytes += size
  }
  const drop = (ids: string[]) => {
    for (const id of ids) {
      bytes -= held.get(id)?.[1] ?? 0
      held.delete(id)
      fresh.delete(id)
    }
  }
  // IndexedDB does not finish a write started while the page is being closed, so what went by
  // beacon is remembered in localStorage, which is synchronous, for the tab that takes over.
  const rememberBeaconed = () => writeLocal(beaconedKey + tab, forgotten.size > 0 ? JSON.stringify([...forgotten]) : undefined)
  const heldActivities = () => [...held.values()].map(([activity]) => activity)
  /** Forgets `ids` here, in the localStorage ledger at once, and in IndexedDB when the delete lands. */
  const forget = (ids: string[]) => {
    drop(ids)
    for (const id of ids) forgotten.add(id)
    rememberBeaconed()
    return db && write(db, [], ids).catch(fail)
  }

  async function open(): Promise<void> {
    opened = true
    const store = createStore(name, 'activities')
    const locks = navigator.locks
    if (locks) {
      // Held until the document goes away, which is how other tabs tell this one is alive.
      await new Promise<void>((granted) => {
        void locks.request(tabLock + tab, () => {
          granted()
          return new Promise(noop)
        })
      })
    }
    const claim = async () => {
      const live = new Set(locks ? ((await locks.query()).held ?? []).map((lock) => lock.name) : [])
      const beaconed = new Set<string>()
      const ledgers = localKeys(beaconedKey).filter((key) => !live.has(tabLock + key.slice(beaconedKey.length)))
      for (const key of ledgers) for (const id of JSON.parse(readLocal(key) ?? '[]') as string[]) beaconed.add(id)
      const rows = await store('readonly', (objects) => promisifyRequest<Row[]>(objects.getAll()))
      // Orphans: what went by beacon is deleted, the rest becomes this tab's.
      const sent: string[] = []
      const owed: [string, Row][] = []
      for (const { a, o } of rows) if (!live.has(tabLock + o)) beaconed.has(a.id) ? sent.push(a.id) : owed.push([a.id, { a, o: tab }])
      if (sent.length + owed.length > 0) await write(store, owed, sent)
      for (const key of ledgers) writeLocal(key, undefined)
      for (const [, row] of owed) keep(row.a, JSON.stringify(row.a).length)
    }
    await (locks ? locks.request(`${name}:claim`, claim) : claim())
    db = store
  }

  return {
    async load() {
      await previous
      if (!opened) await open().catch(fail)
      return heldActivities().sort(byId)
    },
    async add(activities) {
      const rows: [string, Row][] = []
      for (const activity of activities) {
        fresh.delete(activity.id)
        if (forgotten.has(activity.id)) continue
        const size = JSON.stringify(activity).length
        const stored = db !== undefined && bytes + size <= maxBytes
        if (db && !stored) warn(`Over maxBytes (${maxBytes}).`)
        keep(activity, stored ? size : 0)
        if (stored) rows.push([activity.id, { a: activity, o: tab }])
      }
      if (db && rows.length > 0) await write(db, rows).catch(fail)
    },
    async remove(ids) {
      // Delivered ids go to the ledger until their delete lands: a page closing right after an
      // acknowledgement loses the delete, and the next tab must not send them again.
      await forget(ids)
      for (const id of ids) forgotten.delete(id)
      rememberBeaconed()
    },
    hold(activity) {
      fresh.set(activity.id, activity)
    },
    pending() {
      return [...heldActivities(), ...fresh.values()].sort(byId)
    },
    forget(ids) {
      // Not awaited: this runs as the page goes away. When the page lives on it lands after the
      // earlier writes; when it does not, the localStorage record does the job.
      void forget(ids)
    },
    after(promise) {
      previous = promise.then(noop, noop)
    },
  }
}
