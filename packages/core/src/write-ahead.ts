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
   * (at start-up). `fresh` of them (the first ones) were stored before this tracker.
   */
  loaded(entries: Entry[], front: boolean, fresh: number): void
  /** A background error. */
  error(error: unknown): void
}

/**
 * An entry loaded or read back from storage, made with `new` rather than as an object literal. V8
 * may decide that a literal's objects live long and allocate every later one in its old generation,
 * where each, dead or not, keeps its activity alive through young collections until a full one: then
 * every activity read back after a burst was moved to the old generation before it was delivered, and
 * the heap grew by about 18 MB on some runs of `pnpm bench delivery`. Objects made with `new` start
 * young.
 */
class StoredEntry implements Entry {
  persisted = true
  constructor(
    public activity: Activity,
    public seq: number,
    public bytes: number,
    public pendingSinks: number,
  ) {}
}

/** Where {@link WriteAhead.accept} put an entry. */
export type Placement = 'held' | 'spilled' | 'full'

/** The write-ahead layer of a tracker; see {@link createWriteAhead}. */
export interface WriteAhead {
  /** Whether the storage pages: memory holds a window of the queue and the rest waits in storage. */
  readonly pages: boolean
  /** Settles once what the storage held is loaded (a first window of it, when the storage pages). */
  readonly loaded: Promise<void>
  /**
   * Takes a newly tracked entry: `held` (queue it; it becomes sendable once stored), `spilled` (the
   * memory window is full: it waits in storage and comes back through `loaded`), or `full` (the
   * storage's byte cap is reached: drop it). What it takes is written at the next {@link WriteAhead.schedule}.
   */
  accept(entry: Entry): Placement
  /**
   * Schedules the storage write of what `accept` took. The tracker calls it once after each
   * synchronous run of `track()` calls rather than `accept` at its first entry: a branch that runs
   * once per burst has no type feedback in V8 when the burst is a process's first, and taken inside
   * the optimised track() at the next burst it would throw that code away.
   */
  schedule(): void
  /** Every sink is done with `entry`: forget it. */
  settled(entry: Entry): void
  /** The lowest `seq` that is only in storage, `Infinity` when memory holds everything tracked. */
  backlogFrom(): number
  /** Spilled activities this tracker stored and has not read back. */
  spilled(): number
  /** Writes what is pending now (and pages in if there is room); settles when done. */
  flush(): Promise<void>
  /** Stops reading back (shutdown); what is pending is still written by the next `flush`. */
  stop(): void
}

/** What a {@link Pager} gets to work with. */
export interface PagerParts {
  storage: Required<Pick<Storage, 'spill' | 'page'>> & Storage
  config: ResolvedTrackerOptions
  /** The window memory holds, in bytes: `maxQueueBytes` as given (the pager has its own default). */
  windowBytes: number | undefined
  hooks: WriteAheadHooks
  /** Queues `step` behind every storage call queued so far. */
  then(step: () => Promise<void>): void
  /**
   * One synchronous write towards storing a block of spilled activities, when the storage has
   * `spillJsonSync` and no storage call is queued or under way: while what `accept` took waits to
   * be written, a chunk of it (`addSync`: `added`), so the storage keeps the order activities were
   * tracked in; then the block itself (`stored`). `refused` when neither could be written: the
   * block waits for the next `persist`.
   */
  writeNow(json: Uint8Array, count: number): 'added' | 'stored' | 'refused'
  /**
   * Turns activities read back into entries. `known` gives the number and size of one this tracker
   * spilled; the others are an earlier tracker's, numbered below any tracked and measured here.
   */
  entries(activities: Activity[], known: (activity: Activity) => [seq: number, bytes: number] | undefined): { entries: Entry[]; fresh: number }
  /** Reports a storage failure. */
  report(message: string, error: unknown): void
}

/**
 * Paging for storages that have `spill` and `page`: which entries memory holds, and reading the
 * rest back. Optional, so that a bundle that never pages (the browser's) leaves it out.
 */
export interface Pager {
  /** How many activities `load` hands out at start. */
  readonly limit: number
  accept(entry: Entry): Placement
  /** Writes what was spilled since the last storage step (within the storage chain). */
  persist(): Promise<void>
  /** Takes what `load` answered. */
  loaded(activities: Activity[]): void
  settled(entry: Entry): void
  backlogFrom(): number
  spilled(): number
  /** Reads a page back if memory has room. */
  page(): void
  stop(): void
}

/** Makes the {@link Pager} of a paging storage. */
export type PagerFactory = (parts: PagerParts) => Pager

/** Activities per storage call: a 100k burst is written in steps, between which the event loop runs. */
const CHUNK = 1000
/** Entries read back from what an earlier tracker left are numbered from here, below any tracked. */
const STARTUP_SEQ = -(2 ** 52)

/**
 * Lets the event loop run between the steps of a large write, where `setImmediate` exists (Node,
 * Bun, Deno). Not with a timer: a platform that cancels a finished request's timers (Cloudflare
 * Workers) would leave the storage chain waiting forever; there, and in browsers, the steps run on.
 */
export const yieldToLoop = () =>
  new Promise<void>((resolve) => {
    // Read off globalThis: core is typed without Node's globals (browsers and React 18 apps compile it too).
    const immediate = (globalThis as { setImmediate?: (run: () => void) => unknown }).setImmediate
    if (typeof immediate === 'function') immediate(resolve)
    else resolve()
  })

/**
 * Persistence wrapped around delivery: every accepted activity is stored before it is sent, in one
 * storage call per synchronous burst of `track()` calls (or per `persistIntervalMs`), one call at a
 * time — bursts tracked while a slow write is under way are coalesced into the next one. Settled
 * activities are removed the same way. With a paging storage and a `pager`, memory holds only a
 * window of the queue (see `paging.ts`).
 *
 * @param storage - the tracker's storage.
 * @param config - the tracker's resolved options.
 * @param sinks - how many sinks each entry must settle with.
 * @param hooks - how it reports back.
 * @param makePager - paging, used when the storage pages.
 * @param windowBytes - with paging, the memory window in bytes: `maxQueueBytes` as given, if it was.
 */
export function createWriteAhead(
  storage: Storage,
  config: ResolvedTrackerOptions,
  sinks: number,
  hooks: WriteAheadHooks,
  makePager?: PagerFactory,
  windowBytes?: number,
): WriteAhead {
  let chain: Promise<unknown> = Promise.resolve()
  // One list for the tracker's life, emptied in place by each step: a new `[]` would start out as
  // an array of small integers, and track()'s first push of an entry into it would throw away the
  // optimised track() (V8: "wrong map") at the start of every burst.
  const adds: Entry[] = []
  let removes: string[] = []
  let scheduled = false
  let queued = false
  let startupSeq = STARTUP_SEQ
  // Storage steps queued or under way: a synchronous write is made only when there are none.
  let steps = 0
  let syncFailed = false
  const stepDone = () => {
    steps--
  }

  function report(message: string, error: unknown): void {
    hooks.error(new StorageError(message, error))
  }

  function enqueue(step: () => Promise<void>, onError: (error: unknown) => void = keepGoing): Promise<void> {
    steps++
    const done = chain.then(step).then(stepDone, (error: unknown) => {
      stepDone()
      onError(error)
    })
    chain = done
    return done
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
      void enqueue(persist)
    }
    return chain.then(() => pager?.page())
  }

  // A step that failed unexpectedly must not stop every later one: the chain goes on.
  function keepGoing(error: unknown): void {
    report('A storage step failed.', error)
  }

  async function persist(): Promise<void> {
    queued = false
    const added = adds.splice(0)
    const removed = removes
    removes = []
    for (let start = 0; start < added.length; start += CHUNK) {
      if (start > 0) await yieldToLoop()
      const chunk = added.slice(start, start + CHUNK)
      try {
        await storage.add(chunk.map((entry) => entry.activity))
      } catch (error) {
        report('Could not store activities; they stay in memory.', error)
      }
      for (const entry of chunk) entry.persisted = true
      hooks.persisted()
    }
    await pager?.persist()
    if (removed.length > 0) {
      try {
        await storage.remove(removed)
      } catch (error) {
        report('Could not remove activities.', error)
      }
    }
  }

  // A chunk at a time, as `persist` writes them: the window of a burst in one write stalled the
  // track() call that made it for about 40 ms (`pnpm bench delivery`).
  function writeNow(json: Uint8Array, count: number): 'added' | 'stored' | 'refused' {
    if (syncFailed || steps > 0 || typeof storage.spillJsonSync !== 'function') return 'refused'
    try {
      if (adds.length > 0) {
        const chunk = adds.slice(0, CHUNK)
        if (storage.addSync?.(chunk.map((entry) => entry.activity)) !== true) return 'refused'
        // Sendable now; the drain after this run of track() calls sends them.
        for (const entry of chunk) entry.persisted = true
        adds.splice(0, chunk.length)
        return 'added'
      }
      return storage.spillJsonSync(json, count) === true ? 'stored' : 'refused'
    } catch (error) {
      // A storage whose synchronous write throws is written in the background from now on: reported
      // once, not at every block of every burst.
      syncFailed = true
      report('Could not store activities at once; from now on they are written in the background.', error)
      return 'refused'
    }
  }

  function entries(activities: Activity[], known: (activity: Activity) => [seq: number, bytes: number] | undefined) {
    let fresh = 0
    const made = activities.map((activity): Entry => {
      let [seq, bytes] = known(activity) ?? []
      if (seq === undefined) {
        seq = startupSeq++
        bytes = JSON.stringify(activity).length
        fresh++
      }
      return new StoredEntry(activity, seq, bytes!, sinks)
    })
    return { entries: made, fresh }
  }

  const pager =
    makePager && typeof storage.page === 'function' && typeof storage.spill === 'function'
      ? makePager({
          storage: storage as PagerParts['storage'],
          config,
          windowBytes,
          hooks,
          then(step) {
            void enqueue(step)
          },
          writeNow,
          entries,
          report,
        })
      : undefined

  const loaded = enqueue(
    async () => {
      const activities = await storage.load(pager?.limit)
      if (pager) pager.loaded(activities)
      else if (activities.length > 0) {
        const made = entries(activities, () => undefined)
        hooks.loaded(made.entries, true, made.fresh)
      }
    },
    (error) => report('Could not load activities.', error),
  )

  return {
    pages: pager !== undefined,
    loaded,
    accept(entry) {
      const placement = pager ? pager.accept(entry) : 'held'
      if (placement === 'held') adds.push(entry)
      return placement
    },
    schedule,
    settled(entry) {
      removes.push(entry.activity.id)
      schedule()
      pager?.settled(entry)
    },
    backlogFrom: () => (pager ? pager.backlogFrom() : Number.POSITIVE_INFINITY),
    spilled: () => pager?.spilled() ?? 0,
    flush,
    stop: () => pager?.stop(),
  }
}
