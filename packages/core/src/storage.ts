import type { Activity } from './activity'

/**
 * Persistence for activities that are queued but not yet delivered to every sink, so they survive a
 * restart, a reload or a crash. Record-oriented on purpose: the tracker appends and removes by id and
 * never rewrites the whole queue. Calls are made one at a time, in order (never concurrently).
 */
export interface Storage {
  /** Every activity still stored, oldest first. Called once, when a tracker starts. */
  load(): Promise<Activity[]>
  /** Stores newly queued activities (a batch of one synchronous burst of `track()` calls). */
  add(activities: Activity[]): Promise<void>
  /** Forgets activities every sink has settled (delivered, or given up on). Unknown ids are ignored. */
  remove(ids: string[]): Promise<void>
  /** Releases files or handles; called by `tracker.shutdown()`. */
  close?(): Promise<void>
}

/**
 * A {@link Storage} in memory. It survives a tracker being replaced in the same process (a hot
 * reload, a test) but not a restart; use the browser's or Node's storage for that.
 */
export function memoryStorage(): Storage & { readonly size: number } {
  const records = new Map<string, Activity>()
  return {
    get size() {
      return records.size
    },
    async load() {
      return [...records.values()]
    },
    async add(activities) {
      for (const activity of activities) records.set(activity.id, activity)
    },
    async remove(ids) {
      for (const id of ids) records.delete(id)
    },
  }
}
