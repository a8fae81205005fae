import type { Activity } from './activity'
import { StorageError } from './errors'
import type { ResolvedTrackerOptions } from './options'
import type { Entry } from './sink-queue'
import type { Storage } from './storage'
import { unref } from './unref'

/** What the write-ahead layer tells the tracker. */
export interface WriteAheadHooks {
  /** Entries became sendable: their `add` completed (or failed, and they go on from memory). */
  persisted(): void
  /**
   * Entries read back from storage, oldest first: `front` when they are older than anything queued
   * (at start-up without paging). `fresh` of them (the first ones) were stored before this tracker.
   */
  loaded(entries: Entry[], front: boolean, fresh: number): void
  /** A background error. */
  error(error: unknown): void
  /** Debug output. */
  debug(message: string): void
}

/** Where {@link WriteAhead.accept} put an entry. */
export type Placement = 'held' | 'spilled' | 'full'

/** The write-ahead layer of a tracker; see {@link createWriteAhead}. */
export interface WriteAhead {
  /** Settles once what the storage held is loaded (a first window of it, when the storage pages). */
  readonly loaded: Promise<void>
  /**
   * Takes a newly tracked entry: `held` (queue it; it becomes sendable once stored), `spilled` (the
   * memory window is full: it waits in storage and comes back through `loaded`), or `full` (the
   * storage's byte cap is reached: drop it).
   */
  accept(entry: Entry): Placement
  /** Every sink is done with `entry`: forget it, and page more in if memory has room. */
  settled(entry: Entry): void
  /** The lowest `seq` that is only in storage, `Infinity` when memory holds everything tracked. */
  backlogFrom(): number
  /** Spilled activities this tracker stored and has not paged back in. */
  spilled(): number
  /** Writes what is pending now, and pages in if there is room; settles when done. */
  flush(): Promise<void>
  /** Stops paging in (shutdown); what is pending is still written by the next `flush`. */
  stop(): void
}

/** Activities per storage call: a 100k burst is written in steps, between which the event loop runs. */
const CHUNK = 1000
/** Activities read back per `page` (and by `load` of a paging storage). */
const PAGE = 1000
/** Entries read back from what an earlier tracker left are numbered from here, below any tracked. */
const STARTUP_SEQ = -(2 ** 52)

const yieldToLoop = () => new Promise((resolve) => setTimeout(resolve, 0))

/**
 * Persistence wrapped around delivery: every accepted activity is stored before it is sent, in one
 * storage call per synchronous burst of `track()` calls (or per `persistIntervalMs`), one call at a
 * time — bursts tracked while a slow write is under way are coalesced into the next one. Settled
 * activities are removed the same way. With a paging storage (`spill` and `page`), memory holds only
 * a window of the queue (`maxQueueBytes`): what does not fit is spilled to storage and paged back
 * in as delivery makes room, bounded by `maxStorageBytes`.
 *
 * @param storage - the tracker's storage, if any.
 * @param config - the tracker's resolved options.
 * @param sinks - how many sinks each entry must settle with.
 * @param hooks - how it reports back.
 */
export function createWriteAhead(
  storage: Storage | undefined,
  config: ResolvedTrackerOptions,
  sinks: number,
  hooks: WriteAheadHooks,
): WriteAhead {
  if (!storage) {
    return {
      loaded: Promise.resolve(),
      accept(entry) {
        entry.persisted = true
        return 'held'
      },
      settled() {},
      backlogFrom: () => Number.POSITIVE_INFINITY,
      spilled: () => 0,
      flush: () => Promise.resolve(),
      stop() {},
    }
  }
  const pages = typeof storage.page === 'function' && typeof storage.spill === 'function'
  let chain: Promise<unknown> = Promise.resolve()
  let adds: Entry[] = []
  let spills: Entry[] = []
  let removes: string[] = []
  let scheduled = false
  let queued = false
  // Paging: what memory holds, what storage holds, and where the backlog stands.
  let heldBytes = 0
  let heldCount = 0
  let storedBytes = 0
  // Until the first load says otherwise, storage may hold a backlog that comes first.
  let backlog = pages
  let paging = false
  let stopped = false
  let startupSeq = STARTUP_SEQ
  // Whether activities an earlier tracker left may still wait in storage, in front of ours.
  let startupLeft = false
  let firstSpill: Entry | undefined
  let nextPaged: number | undefined
  let unpaged = 0

  function report(message: string, error: unknown): void {
    hooks.error(new StorageError(message, error))
  }

  function hold(entry: Entry): void {
    heldBytes += entry.bytes
    heldCount++
  }

  function schedule(): void {
    if (scheduled) return
    scheduled = true
    const run = () => {
      scheduled = false
      void flush()
    }
    if (config.persistIntervalMs === 0) queueMicrotask(run)
    else unref(setTimeout(run, config.persistIntervalMs))
  }

  // One storage step at a time, each taking everything pending when it runs.
  function flush(): Promise<void> {
    if (!queued) {
      queued = true
      chain = chain.then(persist)
    }
    return chain.then(() => maybePage())
  }

  async function persist(): Promise<void> {
    queued = false
    const added = adds
    const spilled = spills
    const removed = removes
    adds = []
    spills = []
    removes = []
    for (let start = 0; start < added.length; start += CHUNK) {
      if (start > 0) await yieldToLoop()
      const chunk = added.slice(start, start + CHUNK)
      try {
        await storage!.add(chunk.map((entry) => entry.activity))
      } catch (error) {
        report('Could not store activities; they stay in memory.', error)
      }
      for (const entry of chunk) entry.persisted = true
      hooks.persisted()
    }
    for (let start = 0; start < spilled.length; start += CHUNK) {
      if (start > 0 || added.length > 0) await yieldToLoop()
      const chunk = spilled.slice(start, start + CHUNK)
      try {
        await storage!.spill!(chunk.map((entry) => entry.activity))
      } catch (error) {
        // Not stored and not in memory would be lost: hold them after all.
        report('Could not store activities; they stay in memory.', error)
        unpaged -= chunk.length
        if (firstSpill && chunk.includes(firstSpill)) firstSpill = undefined
        for (const entry of chunk) {
          entry.persisted = true
          hold(entry)
        }
        hooks.loaded(chunk, false, 0)
      }
    }
    if (removed.length > 0) {
      try {
        await storage!.remove(removed)
      } catch (error) {
        report('Could not remove activities.', error)
      }
    }
  }

  // Reads spilled activities back once memory is half empty, a page at a time.
  function maybePage(): void {
    if (!backlog || paging || stopped || heldBytes > config.maxQueueBytes / 2 || heldCount > config.maxQueueSize / 2) return
    paging = true
    chain = chain.then(async () => {
      let activities: Activity[]
      try {
        activities = await storage!.page!(PAGE)
      } catch (error) {
        report('Could not read activities back; the next tracked activity or flush tries again.', error)
        return
      } finally {
        paging = false
      }
      received(activities, false)
      // Short, with nothing spilled since: storage holds no backlog any more.
      if (activities.length < PAGE) {
        startupLeft = false
        if (spills.length === 0) {
          backlog = false
          firstSpill = nextPaged = undefined
        }
      }
      maybePage()
    })
  }

  function received(activities: Activity[], front: boolean): void {
    if (stopped || activities.length === 0) return
    let fresh = 0
    const entries = activities.map((activity): Entry => {
      if (firstSpill && activity.id === firstSpill.activity.id) {
        nextPaged = firstSpill.seq
        startupLeft = false
      }
      let seq: number
      if (nextPaged === undefined) {
        seq = startupSeq++
        fresh++
      } else {
        seq = nextPaged++
        unpaged--
      }
      return { activity, seq, bytes: JSON.stringify(activity).length, pendingSinks: sinks, persisted: true }
    })
    for (const entry of entries) hold(entry)
    if (pages) for (const entry of entries.slice(0, fresh)) storedBytes += entry.bytes
    hooks.debug(`Read ${entries.length} stored activities back.`)
    hooks.loaded(entries, front, fresh)
  }

  const loaded = (chain = chain
    .then(async () => {
      const activities = await storage.load(pages ? PAGE : undefined)
      if (pages) {
        startupLeft = activities.length >= PAGE
        // What was tracked meanwhile was spilled, to go after everything an earlier tracker left.
        backlog = startupLeft || firstSpill !== undefined
      }
      received(activities, true)
    })
    .catch((error) => report('Could not load activities.', error)))

  return {
    loaded,
    accept(entry) {
      if (pages) {
        if (backlog || heldBytes + entry.bytes > config.maxQueueBytes || heldCount >= config.maxQueueSize) {
          if (storedBytes + entry.bytes > config.maxStorageBytes) return 'full'
          storedBytes += entry.bytes
          backlog = true
          firstSpill ??= entry
          unpaged++
          spills.push(entry)
          schedule()
          return 'spilled'
        }
        storedBytes += entry.bytes
        hold(entry)
      }
      adds.push(entry)
      schedule()
      return 'held'
    },
    settled(entry) {
      removes.push(entry.activity.id)
      schedule()
      if (!pages) return
      heldBytes -= entry.bytes
      heldCount--
      storedBytes = Math.max(0, storedBytes - entry.bytes)
      maybePage()
    },
    backlogFrom() {
      if (!backlog) return Number.POSITIVE_INFINITY
      // Before our own spilled activities come those an earlier tracker left, in unknown number.
      return nextPaged ?? (startupLeft || !firstSpill ? Number.NEGATIVE_INFINITY : firstSpill.seq)
    },
    spilled: () => unpaged,
    flush,
    stop() {
      stopped = true
    },
  }
}
