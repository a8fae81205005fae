import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTracker, memorySink, normalizeActivity, type Activity, type Sink } from '@usertracking/core'
import { describe, expect, it, vi } from 'vitest'
import { processStart } from './directory-lock'
import { fileStorage } from './file-storage'

function activity(index: number, extra: Partial<Activity> = {}): Activity {
  const result = normalizeActivity({ activityType: 'test_event', userId: `u${index}`, metadata: { index }, ...extra })
  if (!result.ok) throw new Error('invalid test activity')
  return result.activity
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'usertracking-file-storage-'))
}

describe('fileStorage', () => {
  it('gives back what was added and not removed, oldest first, after a restart', async () => {
    const dir = tempDir()
    const first = fileStorage({ dir })
    expect(await first.load()).toEqual([])
    const added = [activity(1), activity(2), activity(3)]
    await first.add(added.slice(0, 2))
    await first.add(added.slice(2))
    await first.remove([added[1]!.id, 'not-a-stored-id'])
    await first.close()

    const second = fileStorage({ dir })
    expect(await second.load()).toEqual([added[0], added[2]])
    expect(second.mode).toBe('file')
    await second.close()
  })

  it('cuts off a record torn by a crash and keeps appending after the last whole one', async () => {
    const dir = tempDir()
    const first = fileStorage({ dir })
    await first.load()
    const kept = activity(1)
    await first.add([kept])
    await first.close()
    const journal = join(dir, 'journal.ndjson')
    appendFileSync(journal, '{"add":[{"id":"0190f0b2-aaaa-7bbb-8ccc-ddddeeeeffff","activ')

    const second = fileStorage({ dir })
    expect(await second.load()).toEqual([kept])
    const later = activity(2)
    await second.add([later])
    await second.close()

    const third = fileStorage({ dir })
    expect(await third.load()).toEqual([kept, later])
    await third.close()
  })

  it('skips an unreadable record in the middle with a warning and keeps the rest', async () => {
    const dir = tempDir()
    const a = activity(1)
    const b = activity(2)
    writeFileSync(join(dir, 'journal.ndjson'), `{"add":[${JSON.stringify(a)}]}\n\u0000\u0000garbage\n{"add":[${JSON.stringify(b)}]}\n`)
    const warnings: Error[] = []
    const storage = fileStorage({ dir, onWarning: (warning) => warnings.push(warning) })
    expect(await storage.load()).toEqual([a, b])
    expect(warnings.map((warning) => warning.message)).toEqual([expect.stringMatching(/\[usertracking\] \[file-storage\] Skipped 1 unreadable record/)])
    await storage.close()
  })

  it('stays bounded: delivered activities are compacted away and an idle journal is empty', async () => {
    const dir = tempDir()
    const storage = fileStorage({ dir, compactAtBytes: 16 * 1024 })
    await storage.load()
    const pending: Activity[] = []
    let largest = 0
    for (let round = 0; round < 400; round++) {
      const batch = [activity(round * 3), activity(round * 3 + 1), activity(round * 3 + 2)]
      await storage.add(batch)
      pending.push(...batch)
      // Keep a backlog of about 20, as a slow sink would.
      const settled = pending.splice(0, Math.max(0, pending.length - 20))
      if (settled.length > 0) await storage.remove(settled.map((item) => item.id))
      largest = Math.max(largest, statSync(join(dir, 'journal.ndjson')).size)
    }
    expect(largest).toBeLessThan(40 * 1024)
    expect(readdirSync(dir).sort()).toEqual(['journal.ndjson', 'lock'])
    await storage.remove(pending.map((item) => item.id))
    expect(statSync(join(dir, 'journal.ndjson')).size).toBe(0)
    await storage.close()

    const reopened = fileStorage({ dir })
    expect(await reopened.load()).toEqual([])
    await reopened.close()
  })

  it('rewrites an oversized journal on start, keeping only what is pending', async () => {
    const dir = tempDir()
    const journal = join(dir, 'journal.ndjson')
    const survivors = [activity(1), activity(2)]
    let text = `{"add":${JSON.stringify(survivors)}}\n`
    for (let index = 0; index < 200; index++) {
      const gone = activity(100 + index)
      text += `{"add":[${JSON.stringify(gone)}]}\n{"remove":["${gone.id}"]}\n`
    }
    writeFileSync(journal, text)
    const storage = fileStorage({ dir, compactAtBytes: 8 * 1024 })
    expect(await storage.load()).toEqual(survivors)
    expect(statSync(journal).size).toBeLessThan(2 * 1024)
    await storage.close()
  })

  it('keeps a second process out of a directory in use, in memory and with a warning', async () => {
    const dir = tempDir()
    // A lock naming a live process other than this one: the parent process of this test run.
    writeFileSync(join(dir, 'lock'), String(process.ppid))
    const warnings: Error[] = []
    const storage = fileStorage({ dir, onWarning: (warning) => warnings.push(warning) })
    expect(await storage.load()).toEqual([])
    expect(storage.mode).toBe('memory')
    expect(warnings[0]?.message).toMatch(new RegExp(`in use by process ${process.ppid}`))
    await storage.add([activity(1)])
    expect(storage.size).toBe(1)
    expect(readdirSync(dir)).toEqual(['lock'])
    await storage.close()
  })

  it('keeps a second storage of this process out of a directory in use until the first closes', async () => {
    const dir = tempDir()
    const first = fileStorage({ dir })
    await first.load()
    const warnings: Error[] = []
    const second = fileStorage({ dir, onWarning: (warning) => warnings.push(warning) })
    await second.load()
    expect(second.mode).toBe('memory')
    expect(warnings[0]?.message).toMatch(/in use by another fileStorage in this process/)
    await second.close()
    await first.close()
    const third = fileStorage({ dir })
    await third.load()
    expect(third.mode).toBe('file')
    await third.close()
  })

  it('takes over the lock of a process that is gone', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'lock'), '2147483646')
    const storage = fileStorage({ dir })
    await storage.load()
    expect(storage.mode).toBe('file')
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid })
    await storage.close()
    expect(readdirSync(dir)).toEqual(['journal.ndjson'])
  })

  it('takes over a lock naming a live but unrelated process (pid 1 after a container restart)', async () => {
    const dir = tempDir()
    // pid 1 runs, but it is not the process that wrote this lock: its start time differs.
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: 1, start: '1' }))
    const storage = fileStorage({ dir })
    await storage.load()
    expect(storage.mode).toBe('file')
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid, start: processStart(process.pid) })
    await storage.close()
  })

  it('takes over an old pid-only lock written before the process it names started', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'lock'), '1')
    // Written in 1970: pid 1 of this machine started long after, so it cannot be the writer.
    utimesSync(join(dir, 'lock'), 0, 0)
    const storage = fileStorage({ dir })
    await storage.load()
    expect(storage.mode).toBe('file')
    await storage.close()
  })

  it('tries a directory in use again every retryDiskMs and takes it once its holder is gone', async () => {
    const dir = tempDir()
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    await new Promise((resolve) => holder.once('spawn', resolve))
    const pid = holder.pid!
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid, start: processStart(pid) }))
    const previous = activity(1)
    writeFileSync(join(dir, 'journal.ndjson'), `{"add":[${JSON.stringify(previous)}]}\n`)
    const warnings: Error[] = []
    const storage = fileStorage({ dir, retryDiskMs: 50, onWarning: (warning) => warnings.push(warning) })
    expect(await storage.load()).toEqual([])
    expect(storage.mode).toBe('memory')
    expect(warnings[0]?.message).toMatch(new RegExp(`in use by process ${pid}; .* tried again every 50 ms`))
    const mine = activity(2)
    await storage.add([mine])
    holder.kill('SIGKILL')
    // No further storage call: the retry runs by itself.
    await vi.waitFor(() => expect(storage.mode).toBe('file'), { timeout: 20_000, interval: 20 })
    await storage.close()
    // The previous holder's pending activity is kept beside ours for the next start.
    const reopened = fileStorage({ dir })
    expect((await reopened.load()).map((item) => item.id).sort()).toEqual([previous.id, mine.id].sort())
    await reopened.close()
  })

  it('pages back what spillJson stored, and a restart finds it, in order', async () => {
    const dir = tempDir()
    const first = fileStorage({ dir })
    await first.load(10)
    const held = activity(0)
    await first.add([held])
    const spilled = Array.from({ length: 6 }, (_, index) => activity(index + 1, { metadata: { index, text: 'ünïcødé ✓' } }))
    const json = (activities: Activity[]) => new TextEncoder().encode(JSON.stringify(activities))
    await first.spillJson(json(spilled.slice(0, 4)), 4)
    await first.spillJson(json(spilled.slice(4)), 2)
    expect(first.size).toBe(7)
    expect(await first.page(3)).toEqual(spilled.slice(0, 3))
    await first.remove([held.id, ...spilled.slice(0, 3).map((item) => item.id)])
    await first.close()

    const second = fileStorage({ dir })
    expect(await second.load(2)).toEqual(spilled.slice(3, 5))
    expect(await second.page(10)).toEqual(spilled.slice(5))
    await second.close()
  })

  it('writes addSync and spillJsonSync before they return, in order with the promise forms, and refuses while a call is under way', async () => {
    const dir = tempDir()
    const journal = join(dir, 'journal.ndjson')
    const storage = fileStorage({ dir })
    await storage.load(10)
    const json = (activities: Activity[]) => new TextEncoder().encode(JSON.stringify(activities))
    const added = activity(0)
    await storage.add([added])
    const before = statSync(journal).size
    const addedAtOnce = activity(1)
    const spilledAtOnce = [activity(2), activity(3, { metadata: { text: 'ünïcødé ✓' } })]
    expect(storage.addSync([addedAtOnce])).toBe(true)
    expect(storage.spillJsonSync(json(spilledAtOnce), 2)).toBe(true)
    expect(statSync(journal).size).toBeGreaterThan(before)

    // A call under way: refused, storing nothing, so nothing overtakes it.
    const spilledLater = activity(4)
    const underWay = storage.spill([spilledLater])
    expect(storage.addSync([activity(5)])).toBe(false)
    expect(storage.spillJsonSync(json([activity(6)]), 1)).toBe(false)
    await underWay
    expect(await storage.page(10)).toEqual([...spilledAtOnce, spilledLater])
    await storage.close()

    const next = fileStorage({ dir })
    expect(await next.load()).toEqual([added, addedAtOnce, ...spilledAtOnce, spilledLater])
    await next.close()
  })

  it('refuses to write at once when every write must wait for its fsync', async () => {
    const storage = fileStorage({ dir: tempDir(), syncIntervalMs: 0 })
    await storage.load(10)
    expect(storage.addSync([activity(0)])).toBe(false)
    expect(storage.spillJsonSync(new TextEncoder().encode(JSON.stringify([activity(1)])), 1)).toBe(false)
    expect(storage.size).toBe(0)
    await storage.close()
  })

  it('has a burst that outgrows the memory window in the journal before track() returns, in the order tracked', async () => {
    const dir = tempDir()
    const never: Sink = { name: 'never', write: () => new Promise(() => {}) }
    const tracker = createTracker({ sinks: [never], storage: fileStorage({ dir }), maxQueueBytes: 20_000, warnings: false })
    // Resolves once the storage has loaded (nothing is tracked yet, so nothing waits for the sink);
    // the storage step that flush queued runs out before the next turn of the event loop.
    expect(await tracker.flush()).toBe(true)
    await new Promise((resolve) => setImmediate(resolve))
    const ids: string[] = []
    for (let index = 0; index < 2000; index++) ids.push(tracker.track({ activityType: 'burst', metadata: { index, text: 'x'.repeat(100) } })!)
    // Still in the burst's own turn of the event loop: the window it held and every full block of
    // about 64 KB it spilled are in the journal; only the last block's few hundred wait.
    const records = readFileSync(join(dir, 'journal.ndjson'), 'utf8').trim().split('\n')
    const stored = records.flatMap((line) => {
      const record = JSON.parse(line) as { add?: Activity[]; spill?: Activity[] }
      return (record.add ?? record.spill ?? []).map((item) => item.id)
    })
    // Each once, in the order tracked.
    expect(stored.length).toBeGreaterThan(1500)
    expect(stored).toEqual(ids.slice(0, stored.length))
    expect(await tracker.shutdown({ timeoutMs: 50 })).toBe(false)
    const next = fileStorage({ dir })
    expect((await next.load()).map((item) => item.id)).toEqual(ids)
    await next.close()
  })

  it('keeps what page handed back through a rewrite until it is removed, in order after a restart', async () => {
    const dir = tempDir()
    const journal = join(dir, 'journal.ndjson')
    const storage = fileStorage({ dir, compactAtBytes: 2048 })
    await storage.load(10)
    const spilled = Array.from({ length: 8 }, (_, index) => activity(index))
    await storage.spillJson(new TextEncoder().encode(JSON.stringify(spilled)), 8)
    expect(await storage.page(3)).toEqual(spilled.slice(0, 3))
    expect(await storage.page(3)).toEqual(spilled.slice(3, 6))
    // Delivered out of order: one from each page.
    await storage.remove([spilled[4]!.id, spilled[0]!.id])
    expect(storage.size).toBe(6)
    // Other traffic grows the journal until it is rewritten.
    let rewritten = false
    for (let round = 0; round < 200 && !rewritten; round++) {
      const before = statSync(journal).size
      const other = activity(100 + round)
      await storage.add([other])
      await storage.remove([other.id])
      rewritten = statSync(journal).size < before
    }
    expect(rewritten).toBe(true)
    expect(storage.size).toBe(6)
    await storage.close()

    const reopened = fileStorage({ dir })
    expect(await reopened.load()).toEqual([1, 2, 3, 5, 6, 7].map((index) => spilled[index]))
    await reopened.close()
  })

  it('empties the journal once everything paged back is removed', async () => {
    const dir = tempDir()
    const storage = fileStorage({ dir })
    await storage.load(10)
    const spilled = Array.from({ length: 5 }, (_, index) => activity(index))
    await storage.spillJson(new TextEncoder().encode(JSON.stringify(spilled)), 5)
    const first = await storage.page(2)
    const rest = await storage.page(10)
    await storage.remove(rest.map((item) => item.id))
    expect(storage.size).toBe(2)
    expect(statSync(join(dir, 'journal.ndjson')).size).toBeGreaterThan(0)
    await storage.remove(first.map((item) => item.id))
    expect(storage.size).toBe(0)
    expect(statSync(join(dir, 'journal.ndjson')).size).toBe(0)
    await storage.close()
  })

  it('holds what spillJson gets in memory while the directory is in use, and pages it back', async () => {
    const dir = tempDir()
    const holder = fileStorage({ dir })
    await holder.load()
    const storage = fileStorage({ dir, onWarning: () => {} })
    await storage.load(10)
    expect(storage.mode).toBe('memory')
    const spilled = [activity(1), activity(2)]
    await storage.spillJson(new TextEncoder().encode(JSON.stringify(spilled)), 2)
    expect(storage.size).toBe(2)
    expect(await storage.page(10)).toEqual(spilled)
    await storage.close()
    await holder.close()
  })

  it('rejects options that make no sense at start-up', () => {
    expect(() => fileStorage({ dir: '' })).toThrow(/options\.dir/)
    expect(() => fileStorage({ dir: tempDir(), syncIntervalMs: -1 })).toThrow(/options\.syncIntervalMs must be a number of at least 0/)
  })

  it('lets a new tracker deliver what an earlier one over the same directory left pending', async () => {
    const dir = tempDir()
    const down = memorySink({ respond: () => ({ type: 'retryable' }) })
    const first = createTracker({ sinks: [down], storage: fileStorage({ dir }), retryBaseDelayMs: 10_000 })
    const ids = [first.track({ activityType: 'a' }), first.track({ activityType: 'b' })]
    await first.shutdown({ timeoutMs: 100 })

    const up = memorySink()
    const second = createTracker({ sinks: [up], storage: fileStorage({ dir }) })
    expect(await second.flush(5000)).toBe(true)
    expect(up.activities.map((item) => item.id)).toEqual(ids)
    await second.shutdown()
    expect(statSync(join(dir, 'journal.ndjson')).size).toBe(0)
  })
})
