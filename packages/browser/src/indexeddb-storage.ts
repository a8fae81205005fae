import type { Activity, Logger, Storage } from '@usertracking/core'
import { smallUuidv7 } from '@usertracking/core'
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval'
import { localKeys, readLocal, writeLocal } from './local-storage'

/** Options of {@link indexedDbStorage}. */
export interface IndexedDbStorageOptions {
  /** Name of the IndexedDB database (and prefix of the Web Locks and `localStorage` keys it uses). @default 'usertracking' */
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
 * The tracker's {@link Storage} in a page, plus what the page needs when it is hidden or closed,
 * and when the visitor withdraws consent.
 */
export interface PageStorage extends Storage {
  /** Records an activity the tracker accepted but has not passed to `add` yet. */
  hold(activity: Activity): void
  /** Every activity this page still owes delivery of, oldest first. */
  pending(): Activity[]
  /**
   * The page is hidden or closing. Forgets `sent` (accepted by beacon: a later `add` of them is
   * ignored) and keeps, synchronously in `localStorage`, every other pending activity whose
   * IndexedDB write has not landed, so that the tab that takes over sends it.
   */
  leave(sent: string[]): void
  /** Deletes every stored activity, this tab's and every other's, and the `localStorage` records; never rejects. */
  clear(): Promise<void>
}

interface Row {
  /** The activity. */
  a: Activity
  /** The tab that owes its delivery. */
  o: string
}

const byId = (left: Activity, right: Activity) => (left.id < right.id ? -1 : 1)
/** Where a held activity is: accepted by the tracker, passed to `add`, or written to IndexedDB. */
const FRESH = 0
const ADDED = 1
const STORED = 2
const noop = () => {}

/** Puts `rows` and deletes `ids` in one transaction. */
const write = (store: UseStore, rows: Row[], ids: string[] = []) =>
  store('readwrite', (objects) => {
    for (const row of rows) objects.put(row, row.a.id)
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
 * A page being closed cannot finish an IndexedDB write, so two `localStorage` records, which are
 * synchronous, stand in for it: the ids that were acknowledged or accepted by beacon until their
 * delete lands (the tab that takes over deletes them instead of sending them again), and, from
 * {@link PageStorage.leave}, the activities whose write had not landed (it stores and sends them).
 * A keepalive request still in flight is neither: its activities stay owed, and are sent again
 * by the next tab unless the page heard back.
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
  const tab = smallUuidv7()
  const sentKey = `${name}:sent:`
  const unstoredKey = `${name}:unstored:`
  /**
   * Every activity this page owes: with its bytes in IndexedDB (0 if only in memory) and whether
   * it is accepted but not added yet (`FRESH`), added, or added and its write landed (`STORED`).
   */
  const held = new Map<string, [Activity, number, number]>()
  /** Ids delivered (acknowledged, or accepted by beacon) whose IndexedDB delete may not have landed. */
  const forgotten = new Set<string>()
  let bytes = 0
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
  const keep = (activity: Activity, size: number, state: number) => {
    bytes += size - (held.get(activity.id)?.[1] ?? 0)
    held.set(activity.id, [activity, size, state])
  }
  const drop = (ids: string[]) => {
    for (const id of ids) {
      bytes -= held.get(id)?.[1] ?? 0
      held.delete(id)
    }
  }
  const rememberSent = () => writeLocal(sentKey + tab, forgotten.size > 0 ? JSON.stringify([...forgotten]) : undefined)
  const list = (keepIf: (state: number) => boolean) =>
    [...held.values()].flatMap(([activity, , state]) => (keepIf(state) ? [activity] : [])).sort(byId)
  /** Forgets `ids` here, in the localStorage ledger at once, and in IndexedDB when the delete lands. */
  const forget = (ids: string[]) => {
    drop(ids)
    for (const id of ids) forgotten.add(id)
    rememberSent()
    return db && write(db, [], ids).catch(fail)
  }
  const parse = <T>(key: string): T[] => JSON.parse(readLocal(key) ?? '[]') as T[]
  // Opens the database on its first use only (so never for a visitor who was never tracked), and
  // again after it closed or failed to open.
  const store = createStore(name, 'activities')

  async function open(): Promise<void> {
    opened = true
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
      const gone = (key: string, prefix: string) => key.startsWith(prefix) && !live.has(tabLock + key.slice(prefix.length))
      const keys = localKeys(name + ':').filter((key) => gone(key, sentKey) || gone(key, unstoredKey))
      const sent = new Set(keys.flatMap((key) => (key.startsWith(sentKey) ? parse<string>(key) : [])))
      const rows = await store('readonly', (objects) => promisifyRequest<Row[]>(objects.getAll()))
      // Orphans: what was delivered is deleted, the rest becomes this tab's.
      const deleted: string[] = []
      const owed = new Map<string, Row>()
      for (const { a, o } of rows) if (!live.has(tabLock + o)) sent.has(a.id) ? deleted.push(a.id) : owed.set(a.id, { a, o: tab })
      for (const key of keys) if (key.startsWith(unstoredKey)) for (const a of parse<Activity>(key)) if (!sent.has(a.id)) owed.set(a.id, { a, o: tab })
      if (deleted.length + owed.size > 0) await write(store, [...owed.values()], deleted)
      for (const key of keys) writeLocal(key, undefined)
      for (const { a } of owed.values()) keep(a, JSON.stringify(a).length, STORED)
    }
    await (locks ? locks.request(`${name}:claim`, claim) : claim())
    db = store
  }

  return {
    async load() {
      if (!opened) await open().catch(fail)
      // What the tracker accepted meanwhile is not loaded: it is already in the tracker's queue.
      return list((state) => state !== FRESH)
    },
    async add(activities) {
      const rows: Row[] = []
      for (const activity of activities) {
        if (forgotten.has(activity.id)) continue
        const size = JSON.stringify(activity).length
        const fits = db !== undefined && bytes + size <= maxBytes
        if (db && !fits) warn(`Over maxBytes (${maxBytes}).`)
        keep(activity, fits ? size : 0, ADDED)
        if (fits) rows.push({ a: activity, o: tab })
      }
      if (db && rows.length > 0) {
        await write(db, rows).then(() => {
          for (const { a } of rows) held.get(a.id)?.splice(2, 1, STORED)
        }, fail)
      }
    },
    async remove(ids) {
      // Delivered ids go to the ledger until their delete lands: a page closing right after an
      // acknowledgement loses the delete, and the next tab must not send them again.
      await forget(ids)
      for (const id of ids) forgotten.delete(id)
      rememberSent()
    },
    hold(activity) {
      keep(activity, 0, FRESH)
    },
    pending: () => list(() => true),
    leave(sent) {
      // Not awaited: this runs as the page goes away. When the page lives on it lands after the
      // earlier writes; when it does not, the localStorage records do the job.
      void forget(sent)
      const unstored = list((state) => state !== STORED)
      writeLocal(unstoredKey + tab, unstored.length > 0 ? JSON.stringify(unstored) : undefined)
    },
    async clear() {
      drop([...held.keys()])
      forgotten.clear()
      for (const key of localKeys(name + ':')) writeLocal(key, undefined)
      try {
        await store('readwrite', (objects) => {
          objects.clear()
          return promisifyRequest(objects.transaction)
        })
      } catch (error) {
        fail(error)
      }
    },
  }
}
