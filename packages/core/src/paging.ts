import type { Activity } from './activity'
import { createDeque } from './deque'
import type { Entry } from './sink-queue'
import { PAGED_QUEUE_BYTES } from './options'
import { yieldToLoop, type Pager, type PagerParts } from './write-ahead'

/** Activities read back per `page` (and handed out by `load` at start). */
const PAGE = 1000
/**
 * Activities per `spill` call, with the event loop running between calls. Smaller than the
 * write-ahead's `CHUNK`: what a burst spills is most of it, and serialising 1000 activities per step
 * was one of the longest turns of the event loop after a 100k burst (`pnpm bench track`).
 */
const SPILL_CHUNK = 250
/**
 * Characters of JSON gathered before what was spilled is encoded into one block of UTF-8 bytes, with
 * a storage's `spillJson`. A block lives outside the JavaScript heap: a 100k burst held as objects
 * grew the heap by about 30 MB and made the young generation grow to its maximum (`pnpm bench
 * delivery`). Encoding a block at once costs less than encoding each activity into a shared buffer.
 * 64 Ki, written as a literal: `64 * 1024` stayed in the browser bundle, which never pages.
 */
const SPILL_BLOCK_CHARS = 65_536

/** Spilled activities waiting for `spillJson`: the UTF-8 bytes of their JSON array. */
interface SpillBlock {
  bytes: Uint8Array
  /** The `seq` of its first activity; the others follow without a gap (the backlog takes every new one). */
  firstSeq: number
  /** The estimated size of each activity (`Entry.bytes`), in order: held here until the block is written. */
  sizes: number[]
}

/**
 * Gives a written block's memory back at once. A block outlives the young-generation collections
 * of the burst that fills it, so V8 moves it to the old generation, whose ArrayBuffers only a full
 * collection frees: the 16 MB of a 100k burst stayed allocated through its delivery (`pnpm bench
 * delivery`). Transferred, the memory belongs to a new ArrayBuffer that nothing references, which
 * the next young collection frees. Where `structuredClone` is missing it waits for the collector.
 */
function release(buffer: ArrayBufferLike): void {
  const clone = (globalThis as { structuredClone?: (value: unknown, options: { transfer: unknown[] }) => unknown }).structuredClone
  try {
    if (typeof clone === 'function') clone(buffer, { transfer: [buffer] })
  } catch {
    // Not transferable here: the collector frees it later all the same.
  }
}

/**
 * Paging for a storage with `spill` and `page`: memory holds a window of the queue
 * (`windowBytes`: `maxQueueBytes`, or `PAGED_QUEUE_BYTES` when not given; and `maxQueueSize`), the
 * storage the rest (up to `maxStorageBytes`).
 *
 * Once the window is full every new entry is spilled — also when room frees meanwhile — until what
 * was spilled has been read back, so order holds. Spilled entries are read back a page at a time
 * once memory is half empty, behind everything queued. Entries left by an earlier tracker come first
 * (numbered below any tracked); the first entry spilled by this tracker, recognised by its id,
 * marks where this tracker's own begin, so each gets back its place in line.
 *
 * @param parts - see {@link PagerParts}.
 */
export function createPager({ storage, config, windowBytes: given, hooks, then, writeNow, entries, report }: PagerParts): Pager {
  const windowBytes = given ?? PAGED_QUEUE_BYTES
  let heldBytes = 0
  let heldCount = 0
  let storedBytes = 0
  // Until the first load says otherwise, storage may hold a backlog that comes first.
  let backlog = true
  let paging = false
  // Whether the last page read was full: more follow, and the loop runs before the next.
  let full = false
  let stopped = false
  // Whether activities an earlier tracker left may still wait in storage, in front of ours.
  let startupLeft = false
  let spills: Entry[] = []
  let blocks: SpillBlock[] = []
  const spillJson = storage.spillJson?.bind(storage)
  const encoder = new TextEncoder()
  // The size of each spilled entry that left memory and was not read back yet, in order: measuring
  // them again costs a JSON.stringify each. Before, a size waits once, with its entry (`spills`) or in
  // `textSizes` and then its block's `sizes`, and comes here when its write settles, in the order
  // spilled. Nothing is read back before: reads are storage steps, as the writes are, and only what
  // was stored comes back.
  let spilledBytes = createDeque<number>()
  let firstSpill: Entry | undefined
  let nextPaged: number | undefined
  let unpaged = 0

  // With `spillJson`, an entry spilled keeps only its JSON, until a block's worth is encoded.
  let texts: string[] = []
  let textChars = 0
  let textsFirstSeq = 0
  let textSizes: number[] = []
  let writing = false

  /**
   * A spilled block left memory: its sizes go to `spilledBytes`, in order — also when its write
   * failed, as for `spills`: see `persist`.
   */
  function wrote(block: SpillBlock): void {
    for (const size of block.sizes) spilledBytes.push(size)
    release(block.bytes.buffer)
  }

  function encode(entry: Entry): void {
    const text = JSON.stringify(entry.activity)
    if (texts.length === 0) textsFirstSeq = entry.seq
    texts.push(text)
    textSizes.push(entry.bytes)
    textChars += text.length
    if (textChars >= SPILL_BLOCK_CHARS) seal()
  }

  function seal(): void {
    if (texts.length === 0) return
    blocks.push({ bytes: encoder.encode(`[${texts.join(',')}]`), firstSeq: textsFirstSeq, sizes: textSizes })
    texts = []
    textChars = 0
    textSizes = []
    // A write may call back into the app (a warning, an error listener) and so into track(): that
    // seals what it spills without writing, and this loop writes it in turn.
    if (writing) return
    writing = true
    try {
      // Written at once where the storage can, oldest first: a burst's spilled activities then wait
      // on disk rather than in memory until it ends (18 MB of a 100k burst). Two writes per block
      // sealed, so that what waits shrinks once the window's own activities are written.
      for (let writes = 0; writes < 2 && blocks.length > 0; writes++) {
        const oldest = blocks[0]!
        const written = writeNow(oldest.bytes, oldest.sizes.length)
        if (written === 'refused') break
        if (written === 'stored') wrote(blocks.shift()!)
      }
    } finally {
      writing = false
    }
  }

  /** Holds entries whose write failed: they stay in memory after all, behind what is queued. */
  function keep(failed: Entry[]): void {
    unpaged -= failed.length
    for (const entry of failed) {
      entry.persisted = true
      hold(entry)
    }
    hooks.loaded(failed, false, 0)
  }

  function hold(entry: Entry): void {
    heldBytes += entry.bytes
    heldCount++
  }

  function received(activities: Activity[], front: boolean): void {
    if (stopped || activities.length === 0) return
    const made = entries(activities, (activity) => {
      if (firstSpill && activity.id === firstSpill.activity.id) {
        nextPaged = firstSpill.seq
        startupLeft = false
      }
      if (nextPaged === undefined) return undefined
      unpaged--
      return [nextPaged++, spilledBytes.shift() ?? 0]
    })
    for (const entry of made.entries) hold(entry)
    for (const entry of made.entries.slice(0, made.fresh)) storedBytes += entry.bytes
    hooks.loaded(made.entries, front, made.fresh)
  }

  function page(): void {
    if (!backlog || paging || stopped || heldBytes > windowBytes / 2 || heldCount > config.maxQueueSize / 2) return
    paging = true
    then(async () => {
      // Pages chained in one go would read and parse a whole backlog without the event loop
      // running in between (measured: a 250 ms stall paging 20k activities back after a burst).
      if (full) await yieldToLoop()
      let activities: Activity[]
      try {
        activities = await storage.page(PAGE)
      } catch (error) {
        report('Could not read activities back; the next tracked activity or flush tries again.', error)
        return
      } finally {
        paging = false
      }
      received(activities, false)
      full = activities.length >= PAGE
      // Short, with nothing spilled since: storage holds no backlog any more.
      if (activities.length < PAGE) {
        startupLeft = false
        if (spills.length === 0 && blocks.length === 0 && texts.length === 0) {
          backlog = false
          firstSpill = nextPaged = undefined
          spilledBytes = createDeque<number>()
        }
      }
      page()
    })
  }

  return {
    limit: PAGE,
    accept(entry) {
      if (backlog || heldBytes + entry.bytes > windowBytes || heldCount >= config.maxQueueSize) {
        if (storedBytes + entry.bytes > config.maxStorageBytes) return 'full'
        storedBytes += entry.bytes
        backlog = true
        firstSpill ??= entry
        unpaged++
        if (spillJson) encode(entry)
        else spills.push(entry)
        return 'spilled'
      }
      storedBytes += entry.bytes
      hold(entry)
      return 'held'
    },
    async persist() {
      seal()
      const spilled = spills
      const written: (SpillBlock | undefined)[] = blocks
      spills = []
      blocks = []
      for (let start = 0; start < spilled.length; start += SPILL_CHUNK) {
        if (start > 0) await yieldToLoop()
        const chunk = spilled.slice(start, start + SPILL_CHUNK)
        try {
          await storage.spill(chunk.map((entry) => entry.activity))
        } catch (error) {
          // Neither stored nor in memory would be lost: hold them after all.
          report('Could not store activities; they stay in memory.', error)
          if (firstSpill && chunk.includes(firstSpill)) firstSpill = undefined
          keep(chunk)
        }
        // Their sizes go to `spilledBytes` also when the write failed: there they shift the sizes of
        // what is read back later by a few entries, an estimate either way, reset once the backlog is gone.
        for (const entry of chunk) spilledBytes.push(entry.bytes)
      }
      for (let index = 0; index < written.length; index++) {
        if (index > 0) await yieldToLoop()
        const block = written[index]!
        // Each block goes as soon as it is written, not with the last one.
        written[index] = undefined
        const count = block.sizes.length
        try {
          await spillJson!(block.bytes, count)
        } catch (error) {
          report('Could not store activities; they stay in memory.', error)
          if (firstSpill && firstSpill.seq >= block.firstSeq && firstSpill.seq < block.firstSeq + count) firstSpill = undefined
          let seq = block.firstSeq
          let at = 0
          const activities = JSON.parse(new TextDecoder().decode(block.bytes)) as Activity[]
          keep(entries(activities, () => [seq++, block.sizes[at++]!]).entries)
        }
        wrote(block)
      }
    },
    loaded(activities) {
      startupLeft = activities.length >= PAGE
      // What was tracked meanwhile was spilled, to go after everything an earlier tracker left.
      backlog = startupLeft || firstSpill !== undefined
      received(activities, true)
    },
    settled(entry) {
      heldBytes -= entry.bytes
      heldCount--
      storedBytes = Math.max(0, storedBytes - entry.bytes)
      page()
    },
    backlogFrom() {
      if (!backlog) return Number.POSITIVE_INFINITY
      // Before our own spilled activities come those an earlier tracker left, in unknown number.
      return nextPaged ?? (startupLeft || !firstSpill ? Number.NEGATIVE_INFINITY : firstSpill.seq)
    },
    spilled: () => unpaged,
    page,
    stop() {
      stopped = true
    },
  }
}
