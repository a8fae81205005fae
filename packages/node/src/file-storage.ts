import { closeSync, fsync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeSync, writevSync } from 'node:fs'
import { open, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { UserTrackingError, type Activity, type Storage } from '@usertracking/core'
import { lockDirectory, unlockDirectory } from './directory-lock'
import { decodeSpill, encodeAdd, encodeRemove, encodeSpill, encodeSpillJson, replayJournal } from './journal'

/** Options of {@link fileStorage}. */
export interface FileStorageOptions {
  /**
   * The directory that holds the journal (created if missing). One process per directory: a second
   * process finding it in use keeps its activities in memory and warns.
   */
  dir: string
  /**
   * How often the journal is `fsync`ed, in milliseconds. A process crash (`kill -9`, an OOM kill, an
   * uncaught exception) never loses a completed write whatever this is, because the data is already
   * in the operating system's page cache. A kernel panic or power loss can lose the writes of the
   * last `syncIntervalMs`. `0` syncs every write before it completes: power-loss safe, at the price
   * of one disk flush (around a millisecond on an SSD, more on network disks) per burst of `track()`
   * calls, paid in the background. @default 1000
   */
  syncIntervalMs?: number
  /**
   * The journal is rewritten with only its pending activities once it has grown to this many bytes
   * and to twice its size after the last rewrite, so the directory stays bounded by roughly
   * `max(compactAtBytes, 2 × pending)`. It is also emptied outright whenever nothing is pending.
   * @default 1048576 (1 MiB) — a rewrite then costs a few milliseconds, rarely.
   */
  compactAtBytes?: number
  /**
   * After a write failed (full disk, read-only or unwritable directory), how long to keep activities
   * in memory only before trying the disk again, in milliseconds. @default 30000
   */
  retryDiskMs?: number
  /**
   * Receives warnings: the disk failed and activities are in memory only, the directory is in use
   * by another process, unreadable records were skipped. @default `process.emitWarning`
   */
  onWarning?: (warning: Error) => void
}

/** A {@link Storage} in a directory; see {@link fileStorage}. It pages: `spill` and `page` are always there. */
export interface FileStorage extends Storage {
  /** `file` while the journal is written; `memory` after the disk failed or the directory was in use. */
  readonly mode: 'file' | 'memory'
  /** Activities pending (added or spilled, and not yet removed). */
  readonly size: number
  /** Stores activities the tracker does not keep in memory, for `page` to hand back. */
  spill(activities: Activity[]): Promise<void>
  /** `spill`, for activities given as the UTF-8 bytes of their JSON array: written as they are. */
  spillJson(json: Uint8Array, count: number): Promise<void>
  /**
   * `spillJson`, written before it returns: one `write(2)`. `false` (nothing written) while another
   * call or a background step (a rewrite, an `fsync`) is under way, with `syncIntervalMs: 0` (each
   * write must wait for its `fsync`), and while activities are kept in memory after a disk failure.
   */
  spillJsonSync(json: Uint8Array, count: number): boolean
  /** `add`, written before it returns, on the terms of `spillJsonSync`. */
  addSync(activities: Activity[]): boolean
  /** Up to `limit` stored activities the tracker does not hold, oldest first. */
  page(limit: number): Promise<Activity[]>
  /** Syncs and closes the journal and gives the directory back. */
  close(): Promise<void>
}

/**
 * Activities stored but not held by the tracker, in order: one `spill` record of the journal (at
 * `offset`, `length` bytes), or kept in memory (`activities`) while the disk fails or until the
 * next rewrite puts them in the journal. `taken` of them were handed back already.
 */
interface Unheld {
  offset: number
  length: number
  count: number
  taken: number
  activities?: Activity[]
}

const JOURNAL_FILE = 'journal.ndjson'
/** Activities per record when the journal is rewritten, so that no line grows unbounded. */
const COMPACT_CHUNK = 500

function positive(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback
  if (typeof resolved !== 'number' || Number.isNaN(resolved) || resolved < 0) {
    throw new TypeError(`[usertracking] [file-storage] options.${name} must be a number of at least 0; got ${String(value)}.`)
  }
  return resolved
}

function writeFully(fd: number, buffer: Buffer): void {
  let offset = 0
  while (offset < buffer.length) offset += writeSync(fd, buffer, offset, buffer.length - offset)
}

function callback<T extends unknown[]>(fn: (...args: [...T, (error: NodeJS.ErrnoException | null) => void]) => void, ...args: T): Promise<void> {
  return new Promise((resolve, reject) => fn(...args, (error) => (error ? reject(error) : resolve())))
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code ?? (error instanceof Error ? error.message : String(error))
}

/**
 * A crash-safe {@link Storage} for Node: an append-only journal in `dir` of what was added and what
 * was removed, one JSON record per line.
 *
 * - **What a crash can lose.** Every `add` that completed survives `kill -9` (see `syncIntervalMs`
 *   for power loss). The tracker hands activities to storage one synchronous burst of `track()`
 *   calls at a time, or every `persistIntervalMs` when that is set: those tracked in the current
 *   burst or window, not yet written, are what a crash loses. With the tracker's default
 *   `persistIntervalMs: 0` that is only the burst still running when the process dies.
 * - **Torn writes.** A record counts once its newline is written; a half-written last record is cut
 *   off on the next start. Other unreadable lines are skipped with a warning.
 * - **Bounded.** Removed activities are compacted away (see `compactAtBytes`); the journal is
 *   emptied whenever nothing is pending. The directory holds the journal, a lock file and, briefly
 *   during a rewrite, a temporary file that replaces the journal atomically.
 * - **Never a crash.** A full disk, an unwritable or read-only directory, or a directory in use by
 *   another process is reported once through `onWarning`, and activities are kept in memory until
 *   the disk works again (retried every `retryDiskMs`). An existing journal that can only be read
 *   is still loaded.
 *
 * **Cost.** The tracker calls `add` once per burst of `track()` calls, in the background. An append
 * is one synchronous `write(2)` into the page cache (a few microseconds): measured, that costs half
 * as much per event as a round trip through libuv's thread pool, and it makes "completed" mean "in
 * the kernel". `fsync` and rewrites run in the thread pool. A burst that outgrows the tracker's
 * memory window is written from inside `track()`, so that it waits on disk rather than in memory:
 * one `track()` call in a few hundred makes up to two writes, each a chunk of at most 1000 of the
 * window's activities (`addSync`) or a block of about 64 KB of spilled ones (`spillJsonSync`), a
 * few milliseconds at most. On a network file system with slow writes, prefer a local directory.
 *
 * @param options - see {@link FileStorageOptions}.
 */
export function fileStorage(options: FileStorageOptions): FileStorage {
  if (typeof options?.dir !== 'string' || options.dir.length === 0) {
    throw new TypeError('[usertracking] [file-storage] options.dir must be a directory path.')
  }
  const dir = options.dir
  const syncIntervalMs = positive('syncIntervalMs', options.syncIntervalMs, 1000)
  const compactAtBytes = positive('compactAtBytes', options.compactAtBytes, 1024 * 1024)
  const retryDiskMs = positive('retryDiskMs', options.retryDiskMs, 30_000)
  const journalPath = join(dir, JOURNAL_FILE)
  const tmpPath = `${journalPath}.tmp`

  /** What the tracker holds that was added or loaded, by id. */
  let live = new Map<string, Activity>()
  /**
   * What the tracker holds that `page` handed back, by id: one map per call, oldest first, dropped
   * once emptied. Not in `live`: that map lives as long as the storage, so V8 keeps it and its tables
   * in the old generation, and a young object an old one points to (also a table the map has
   * outgrown) counts as alive in every young collection until a full one. Each activity read back
   * would be moved to the old generation before it was delivered (`pnpm bench delivery`); a map per
   * page dies young with its activities.
   */
  const pagedBack: Map<string, Activity>[] = []
  let unheld: Unheld[] = []
  let fd: number | undefined
  let mode: 'file' | 'memory' = 'file'
  let locked = false
  let closed = false
  let journalBytes = 0
  let compactedBytes = 0
  let degradedAt = 0
  let diskRetryable = false
  let syncTimer: ReturnType<typeof setTimeout> | undefined
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  let chain: Promise<unknown> = Promise.resolve()

  // Storage calls already come one at a time; the chain also orders the background fsync with them.
  // `running` counts what is queued on it or under way: a synchronous write is made only when
  // nothing is, so it lands after everything handed over before it.
  let running = 0
  const ran = () => {
    running--
  }
  function run<T>(operation: () => Promise<T> | T): Promise<T> {
    running++
    const next = chain.then(operation)
    chain = next.then(ran, ran)
    return next
  }

  function warn(message: string, cause?: unknown): void {
    const warning = new UserTrackingError(`[usertracking] [file-storage] ${message}`, { cause })
    try {
      if (options.onWarning) options.onWarning(warning)
      else process.emitWarning(warning)
    } catch {
      // A throwing warning handler must not turn a degraded disk into a crash.
    }
  }

  function closeFd(): void {
    if (fd === undefined) return
    try {
      closeSync(fd)
    } catch {
      // The descriptor is gone either way.
    }
    fd = undefined
  }

  /** Tries the disk again in `retryDiskMs`, also when nothing is tracked meanwhile. */
  function scheduleRetry(): void {
    if (retryTimer !== undefined || closed) return
    retryTimer = setTimeout(() => {
      retryTimer = undefined
      void run(retryDisk).then(() => {
        if (mode === 'memory') scheduleRetry()
      })
    }, retryDiskMs)
    // A disk retry must never keep the process alive.
    retryTimer.unref()
  }

  function degrade(error: unknown, action: string): void {
    const firstFailure = mode === 'file'
    mode = 'memory'
    diskRetryable = true
    degradedAt = Date.now()
    closeFd()
    scheduleRetry()
    if (firstFailure) {
      warn(
        `Could not ${action} the journal in ${dir} (${describe(error)}); pending activities are kept in memory only, so a crash now would lose them. The disk is tried again every ${retryDiskMs} ms.`,
        error,
      )
    }
  }

  async function syncDirectory(): Promise<void> {
    // A rename is durable only once the directory entry is; some platforms cannot fsync a directory.
    try {
      const handle = await open(dir, 'r')
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
    } catch {
      // Best effort: the rename itself is atomic, only its durability against power loss is at stake.
    }
  }

  /** The activities of an unheld record, read from the journal when they are not in memory. */
  function unheldActivities(record: Unheld): Activity[] {
    if (record.activities) return record.activities
    const buffer = Buffer.alloc(record.length)
    const handle = openSync(journalPath, 'r')
    try {
      readSync(handle, buffer, 0, record.length, record.offset)
    } finally {
      closeSync(handle)
    }
    return decodeSpill(buffer.toString('utf8', 0, record.length - 1))
  }

  /** Whether the tracker holds the activity with this id. */
  function holds(id: string): boolean {
    return live.has(id) || pagedBack.some((map) => map.has(id))
  }

  /** Every activity the tracker holds, for a rewrite: those added or loaded, then those paged back. */
  function* heldActivities(): Generator<Activity> {
    yield* live.values()
    for (const map of pagedBack) yield* map.values()
  }

  function heldCount(): number {
    let count = live.size
    for (const map of pagedBack) count += map.size
    return count
  }

  function unpaged(): number {
    let count = 0
    for (const record of unheld) count += record.count - record.taken
    return count
  }

  /**
   * Rewrites the journal with only the pending activities, atomically (write, fsync, rename): what
   * the tracker holds as `add` records, what it does not as `spill` records, read one at a time.
   */
  async function compact(): Promise<void> {
    const handle = await open(tmpPath, 'w')
    let bytes = 0
    let written = false
    const rewritten: Unheld[] = []
    try {
      const write = async (activities: Activity[], spilled: boolean) => {
        const record = Buffer.from(spilled ? encodeSpill(activities) : encodeAdd(activities))
        await handle.write(record)
        if (spilled) rewritten.push({ offset: bytes, length: record.length, count: activities.length, taken: 0 })
        bytes += record.length
      }
      let chunk: Activity[] = []
      for (const activity of heldActivities()) {
        chunk.push(activity)
        if (chunk.length === COMPACT_CHUNK) {
          await write(chunk, false)
          chunk = []
        }
      }
      if (chunk.length > 0) await write(chunk, false)
      for (const record of unheld) {
        const rest = unheldActivities(record).slice(record.taken)
        for (let start = 0; start < rest.length; start += COMPACT_CHUNK) await write(rest.slice(start, start + COMPACT_CHUNK), true)
      }
      await handle.sync()
      written = true
    } finally {
      await handle.close().catch(() => undefined)
      if (!written) {
        try {
          rmSync(tmpPath, { force: true })
        } catch {
          // Left over, it is removed on the next start.
        }
      }
    }
    await rename(tmpPath, journalPath)
    await syncDirectory()
    const next = openSync(journalPath, 'a')
    closeFd()
    fd = next
    journalBytes = bytes
    compactedBytes = bytes
    // The records now point into the new journal, and nothing unheld stays in memory.
    unheld = rewritten
  }

  async function retryDisk(): Promise<void> {
    if (!diskRetryable || closed || Date.now() - degradedAt < retryDiskMs) return
    degradedAt = Date.now()
    try {
      mkdirSync(dir, { recursive: true })
      if (!locked) {
        if (lockDirectory(dir) !== undefined) return
        locked = true
        // What the previous holder left joins ours, so the rewrite below keeps it (the next start delivers it).
        try {
          for (const [id, activity] of replayJournal(readFileSync(journalPath)).live) if (!holds(id)) live.set(id, activity)
        } catch {
          // No journal yet.
        }
      }
      // Our in-memory set is the truth now: the journal may lack what arrived while the disk failed.
      await compact()
      mode = 'file'
      warn(`The journal in ${dir} is written again.`)
    } catch {
      closeFd()
    }
  }

  async function afterWrite(): Promise<void> {
    if (syncIntervalMs === 0) {
      await callback(fsync, fd!)
      return
    }
    syncLater()
  }

  function syncLater(): void {
    if (syncTimer !== undefined) return
    syncTimer = setTimeout(() => {
      syncTimer = undefined
      void run(async () => {
        if (mode !== 'file' || fd === undefined) return
        try {
          await callback(fsync, fd)
        } catch (error) {
          degrade(error, 'sync')
        }
      })
    }, syncIntervalMs)
    // A pending fsync must never keep the process alive.
    syncTimer.unref()
  }

  /** Appends one record, a string or parts of bytes; resolves whether it is in the journal. */
  async function append(record: string | Uint8Array[]): Promise<boolean> {
    if (closed) return false
    if (mode !== 'file' || fd === undefined) {
      await retryDisk()
      return false
    }
    if (!write(record)) return false
    await afterWrite()
    return true
  }

  /** Writes one record synchronously if nothing else is under way (see `spillJsonSync`); whether it did. */
  function writeAtOnce(record: string | Uint8Array[]): boolean {
    if (running > 0 || closed || mode !== 'file' || fd === undefined || syncIntervalMs === 0 || !write(record)) return false
    syncLater()
    return true
  }

  /**
   * The entry of a spill record just written from `offset`. Pending data, not garbage: it must not
   * make the journal look due for a rewrite (a burst spilling 15 MB would otherwise be rewritten at
   * its first remove).
   */
  function writtenSpill(offset: number, count: number): Unheld {
    const length = journalBytes - offset
    compactedBytes += length
    return { offset, length, count, taken: 0 }
  }

  /** Writes one record at the journal's end; on failure cuts it off and keeps to memory from now on. */
  function write(record: string | Uint8Array[]): boolean {
    const handle = fd
    if (handle === undefined) return false
    try {
      let length: number
      if (typeof record === 'string') {
        // The string goes to write(2) without a Buffer of our own: a burst writes megabytes, and
        // Buffers are memory outside the heap that only a garbage collection gives back.
        length = Buffer.byteLength(record)
        const written = writeSync(handle, record)
        if (written < length) writeFully(handle, Buffer.from(record).subarray(written))
      } else {
        length = 0
        for (const part of record) length += part.byteLength
        const written = writevSync(handle, record)
        if (written < length) writeFully(handle, Buffer.concat(record).subarray(written))
      }
      journalBytes += length
      return true
    } catch (error) {
      // Cut a partly written record off so that a later append does not glue onto it.
      try {
        ftruncateSync(handle, journalBytes)
      } catch {
        // The rewrite that ends the memory-only period replaces the file anyway.
      }
      degrade(error, 'write to')
      return false
    }
  }

  /** Hands the tracker the first `limit` pending activities; the rest wait for `page`. */
  function firstOf(limit: number | undefined): Activity[] {
    const all = [...live.values()]
    if (limit === undefined || all.length <= limit) return all
    const rest = all.slice(limit)
    for (const activity of rest) live.delete(activity.id)
    unheld = [{ offset: 0, length: 0, count: rest.length, taken: 0, activities: rest }]
    return all.slice(0, limit)
  }

  function loadReadOnly(): void {
    try {
      live = replayJournal(readFileSync(journalPath)).live
    } catch {
      // Nothing readable either.
    }
  }

  function openJournal(): void {
    mkdirSync(dir, { recursive: true })
    const holder = lockDirectory(dir)
    if (holder !== undefined) {
      mode = 'memory'
      diskRetryable = true
      degradedAt = Date.now()
      scheduleRetry()
      const who = holder === process.pid ? 'another fileStorage in this process' : `process ${holder}`
      warn(
        `The directory ${dir} is in use by ${who}; activities are kept in memory only, and the directory is tried again every ${retryDiskMs} ms. Give each tracker its own directory.`,
      )
      return
    }
    locked = true
    rmSync(tmpPath, { force: true })
    fd = openSync(journalPath, 'a+')
    const bytes = readFileSync(fd)
    const replay = replayJournal(bytes)
    live = replay.live
    if (replay.validBytes < bytes.length) ftruncateSync(fd, replay.validBytes)
    journalBytes = replay.validBytes
    if (replay.unreadable > 0) {
      warn(`Skipped ${replay.unreadable} unreadable record(s) in ${journalPath}.`)
    }
  }

  return {
    get mode() {
      return mode
    },
    get size() {
      return heldCount() + unpaged()
    },
    load(limit) {
      return run(async () => {
        try {
          openJournal()
        } catch (error) {
          degrade(error, 'open')
          loadReadOnly()
          return firstOf(limit)
        }
        const first = firstOf(limit)
        // A rewrite also moves what waits for `page` out of memory into the journal.
        if (mode === 'file' && (journalBytes >= compactAtBytes || (live.size === 0 && journalBytes > 0) || unheld.length > 0)) {
          try {
            await compact()
          } catch (error) {
            degrade(error, 'rewrite')
          }
        }
        return first
      })
    },
    spill(activities) {
      return run(async () => {
        const offset = journalBytes
        const written = await append(encodeSpill(activities))
        unheld.push(written ? writtenSpill(offset, activities.length) : { offset, length: 0, count: activities.length, taken: 0, activities })
      })
    },
    spillJson(json, count) {
      return run(async () => {
        const offset = journalBytes
        if (await append(encodeSpillJson(json))) unheld.push(writtenSpill(offset, count))
        else {
          const activities = decodeSpill(`{"spill":${Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8')}}`)
          unheld.push({ offset, length: 0, count: activities.length, taken: 0, activities })
        }
      })
    },
    page(limit) {
      return run(() => {
        const paged: Activity[] = []
        const held = new Map<string, Activity>()
        while (paged.length < limit && unheld.length > 0) {
          const record = unheld[0]!
          let activities: Activity[]
          try {
            activities = record.activities ??= unheldActivities(record)
          } catch (error) {
            // Unreadable: skipping the record is the only way on; say so.
            unheld.shift()
            warn(`Could not read ${record.count - record.taken} stored activities back from ${journalPath} (${describe(error)}); they are skipped.`, error)
            continue
          }
          const taken = activities.slice(record.taken, record.taken + limit - paged.length)
          record.taken += taken.length
          for (const activity of taken) {
            held.set(activity.id, activity)
            paged.push(activity)
          }
          if (record.taken >= activities.length) {
            unheld.shift()
            // The record outlived the burst that wrote it, so V8 keeps it in its old generation, where
            // it stays after this until a full collection. A young object it still pointed to counts
            // as alive in every young collection meanwhile: each record read back would be moved to
            // the old generation before it is delivered (all 100k of a burst, `pnpm bench delivery`).
            record.activities = undefined
          }
        }
        if (held.size > 0) pagedBack.push(held)
        return paged
      })
    },
    add(activities) {
      return run(() => {
        for (const activity of activities) live.set(activity.id, activity)
        return append(encodeAdd(activities)).then(() => undefined)
      })
    },
    addSync(activities) {
      if (!writeAtOnce(encodeAdd(activities))) return false
      for (const activity of activities) live.set(activity.id, activity)
      return true
    },
    spillJsonSync(json, count) {
      const offset = journalBytes
      if (!writeAtOnce(encodeSpillJson(json))) return false
      unheld.push(writtenSpill(offset, count))
      return true
    },
    remove(ids) {
      return run(async () => {
        for (const id of ids) {
          if (live.delete(id)) continue
          // Delivery goes oldest first: an id paged back is almost always in the first map.
          for (const map of pagedBack) if (map.delete(id)) break
        }
        while (pagedBack.length > 0 && pagedBack[0]!.size === 0) pagedBack.shift()
        if (live.size === 0 && pagedBack.length === 0 && unheld.length === 0 && mode === 'file' && fd !== undefined && !closed) {
          try {
            ftruncateSync(fd, 0)
            journalBytes = 0
            compactedBytes = 0
          } catch (error) {
            degrade(error, 'truncate')
          }
          return
        }
        await append(encodeRemove(ids))
        if (mode === 'file' && journalBytes >= compactAtBytes && journalBytes >= 2 * compactedBytes) {
          try {
            await compact()
          } catch (error) {
            degrade(error, 'rewrite')
          }
        }
      })
    },
    close() {
      return run(async () => {
        if (closed) return
        closed = true
        clearTimeout(syncTimer)
        clearTimeout(retryTimer)
        if (fd !== undefined) {
          try {
            await callback(fsync, fd)
          } catch {
            // Closing anyway; the data is in the page cache.
          }
        }
        closeFd()
        if (locked) unlockDirectory(dir)
        locked = false
      })
    },
  }
}
