import type { Activity } from './activity'

/**
 * Persistence for activities that are queued but not yet delivered to every sink, so they survive a
 * restart, a reload or a crash. Record-oriented on purpose: the tracker appends and removes by id and
 * never rewrites the whole queue. Calls are made one at a time, in order (never concurrently).
 *
 * **Paging (optional).** A storage that can hold more than memory should implements `spill` and
 * `page` too. The tracker then keeps only a window of the queue in memory (`maxQueueBytes`): what
 * does not fit is handed to `spill` instead of `add`, and read back with `page` as delivery makes
 * room. Such a storage holds two kinds of activities: those the tracker holds in memory (passed to
 * `add`, or already returned by `load` or `page`) and those it does not (passed to `spill` or `spillJson`, or
 * stored before this tracker started and not returned yet). `remove` is only ever called for the
 * first kind. A paging storage that can write synchronously may also implement `spillJsonSync` and
 * `addSync`; they are called only while no other call is under way.
 */
export interface Storage {
  /**
   * Activities still stored, oldest first. Called once, when a tracker starts. A paging storage
   * returns at most `limit` of them (it is given one then) and keeps the rest for `page`; others
   * ignore `limit` and return everything.
   */
  load(limit?: number): Promise<Activity[]>
  /** Stores newly queued activities (a batch of one synchronous burst of `track()` calls). */
  add(activities: Activity[]): Promise<void>
  /** Forgets activities every sink has settled (delivered, or given up on). Unknown ids are ignored. */
  remove(ids: string[]): Promise<void>
  /** Releases files or handles; called by `tracker.shutdown()`. */
  close?(): Promise<void>
  /** Paging: stores newly queued activities that the tracker does not keep in memory. */
  spill?(activities: Activity[]): Promise<void>
  /**
   * Paging, optional beside `spill`, which it then replaces: the same, with the activities given as
   * the UTF-8 bytes of their JSON array (`[{…},{…}]`, what `JSON.stringify(activities)` gives),
   * `count` of them. With it, what a burst of `track()` calls spills waits for the write as those
   * bytes, outside the JavaScript heap, instead of as objects. `page` hands them back as activities.
   * The bytes are lent until the returned promise settles (the tracker then frees their memory):
   * copy what is kept beyond that.
   */
  spillJson?(json: Uint8Array, count: number): Promise<void>
  /**
   * Paging, optional beside `spillJson`: the same, done before it returns, so that what a burst of
   * `track()` calls spills waits on disk rather than in memory until the burst ends. The tracker
   * calls it from inside `track()`, for blocks of about 64 KB, and only when no other call is under
   * way and everything tracked before the block is stored (see `addSync`). Returns `false`,
   * having stored nothing, when it cannot write at once (for instance while a background step of
   * its own runs, or when a write must wait for an `fsync`): the tracker then passes the same bytes
   * to `spillJson` later. The bytes are lent for the call only.
   */
  spillJsonSync?(json: Uint8Array, count: number): boolean
  /**
   * `add`, done before it returns, on the terms of `spillJsonSync`: the tracker calls it, inside
   * `track()`, for the activities it holds and has not stored yet (at most 1000 per call), before
   * any `spillJsonSync`, so that the storage keeps the order they were tracked in. `false` means
   * nothing was stored.
   */
  addSync?(activities: Activity[]): boolean
  /**
   * Paging: up to `limit` of the stored activities the tracker does not hold (left by an earlier
   * tracker, or spilled), oldest first; from now on the tracker holds them. Fewer than `limit`
   * means none are left.
   */
  page?(limit: number): Promise<Activity[]>
}

/**
 * A {@link Storage} in memory, with paging. It survives a tracker being replaced in the same
 * process (a hot reload, a test) but not a restart; use the browser's or Node's storage for that.
 */
export function memoryStorage(): Storage & { readonly size: number } {
  const records = new Map<string, Activity>()
  // Ids stored and not handed to the tracker, oldest first.
  let unheld: string[] = []
  const take = (limit: number): Activity[] => {
    const taken: Activity[] = []
    let index = 0
    for (; index < unheld.length && taken.length < limit; index++) {
      const activity = records.get(unheld[index]!)
      if (activity) taken.push(activity)
    }
    unheld = unheld.slice(index)
    return taken
  }
  return {
    get size() {
      return records.size
    },
    async load(limit = Number.POSITIVE_INFINITY) {
      // A new tracker holds nothing yet.
      unheld = [...records.keys()]
      return take(limit)
    },
    async add(activities) {
      for (const activity of activities) records.set(activity.id, activity)
    },
    async spill(activities) {
      for (const activity of activities) {
        if (!records.has(activity.id)) unheld.push(activity.id)
        records.set(activity.id, activity)
      }
    },
    async page(limit) {
      return take(limit)
    },
    async remove(ids) {
      for (const id of ids) records.delete(id)
    },
  }
}
