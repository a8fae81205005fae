import { mkdtempSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startCollector, type Collector } from '../test/collector'
import { startFixture } from '../test/run-fixture'

const ROUNDS = 8
/** Kill times come from this seed; a failure prints it, and CRASH_TEST_SEED=<seed> replays the run. */
const SEED = Number(process.env.CRASH_TEST_SEED) || Math.floor(Math.random() * 2 ** 31)

/** mulberry32: a small seeded generator, so a failing sequence of kill times can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let value = Math.imul(state ^ (state >>> 15), 1 | state)
    value ^= value + Math.imul(value ^ (value >>> 7), 61 | value)
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296
  }
}
const collectors: Collector[] = []
afterEach(async () => {
  await Promise.all(collectors.splice(0).map((collector) => collector.close()))
})

function storedIds(stdout: string): string[] {
  return [...stdout.matchAll(/^stored (\S+)$/gm)].map((match) => match[1]!)
}

describe('fileStorage under kill -9 (real child processes)', () => {
  it(`delivers every stored activity after SIGKILLs at random points, none missing (seed ${SEED})`, async () => {
    console.log(`crash.test.ts: kill times from seed ${SEED}; replay with CRASH_TEST_SEED=${SEED}`)
    const random = seeded(SEED)
    const dir = mkdtempSync(join(tmpdir(), 'usertracking-crash-'))
    const server = await startCollector()
    collectors.push(server)
    const stored = new Set<string>()
    for (let round = 0; round < ROUNDS; round++) {
      // Every other round the backend is down, so a backlog builds up in the journal.
      server.mode = round % 2 === 0 ? 'up' : 'down'
      const child = startFixture('crash-tracker', [dir, server.url])
      // Every fourth round may die while starting up: loading, replaying or rewriting the journal.
      if (round % 4 === 3) await new Promise((resolve) => setTimeout(resolve, random() * 1500))
      else {
        // Kill only once this round stored something, however slow the machine: the test is about
        // what a crash does to a journal with something in it, not about how fast it fills.
        await child.waitFor('ready')
        while (storedIds(child.stdout()).length < 20 && child.child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 10))
        await new Promise((resolve) => setTimeout(resolve, random() * 400))
      }
      child.child.kill('SIGKILL')
      const { signal } = await child.exited
      expect(signal).toBe('SIGKILL')
      for (const id of storedIds(child.stdout())) stored.add(id)
    }
    expect(stored.size).toBeGreaterThan(100)

    server.mode = 'up'
    const drain = startFixture('crash-tracker', [dir, server.url, 'drain'])
    await drain.waitFor('drained')
    expect(drain.stdout()).toContain('drained true 0')
    expect((await drain.exited).code).toBe(0)

    const missing = [...stored].filter((id) => !server.received.has(id))
    expect(missing).toEqual([])
    // The idempotent collector holds each id once; what was re-sent after a crash is only a retry.
    expect(server.received.size).toBeGreaterThanOrEqual(stored.size)
    // Everything delivered: the journal is empty and nothing else was left in the directory.
    expect(readdirSync(dir)).toEqual(['journal.ndjson'])
    expect(statSync(join(dir, 'journal.ndjson')).size).toBe(0)
  })
})
