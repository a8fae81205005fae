/**
 * The conformance suite every {@link Sink} must pass, so that a tracker can rely on it: results are
 * values (never a rejection), a batch written twice is stored once (delivery is at-least-once), and
 * a write whose signal aborts ends promptly. A sink's own test file calls
 * {@link describeSinkConformance} once; the suite registers its vitest tests.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { normalizeActivity } from '@usertracking/core'
import type { Activity, Sink, SinkResult } from '@usertracking/core'

/** How the suite gets the sink under test. */
export interface SinkFixture {
  /** A sink writing to a backend that works. */
  create(): Sink | Promise<Sink>
  /** What that backend holds now, for the sink of the latest `create()`. */
  stored(): Promise<Activity[]>
  /**
   * A sink whose backend never answers (a request that hangs), to check that aborting its write's
   * signal ends the write. Leave it out for sinks that cannot hang (in-memory ones).
   */
  createHanging?(): Sink | Promise<Sink>
  /** Removes what the sink created (servers, tables, connections), after each test. */
  cleanup?(): void | Promise<void>
}

/** How long a write may take to end once its signal aborted, in milliseconds. */
const ABORT_BOUND_MS = 5000

function activities(count: number): Activity[] {
  return Array.from({ length: count }, (_, index) => {
    const result = normalizeActivity({
      activityType: 'sink_conformance',
      userId: `u${index}`,
      durationMs: index * 10,
      tokenUsage: { input: index, output: 1 },
      metadata: { index, nested: { list: [1, 'two', null, true] }, text: 'ünïcödé 👩‍💻' },
    })
    if (!result.ok) throw new Error('invalid conformance activity')
    return result.activity
  })
}

/** Checks that `result` is one of the four {@link SinkResult} shapes. */
function expectSinkResult(result: SinkResult): void {
  expect(['success', 'retryable', 'too_large', 'failure']).toContain(result?.type)
  if (result.type === 'success' && result.rejected !== undefined) {
    for (const item of result.rejected) expect(item).toEqual({ id: expect.any(String), error: expect.any(String) })
  }
  if (result.type === 'retryable' && result.retryInMs !== undefined) expect(result.retryInMs).toBeGreaterThanOrEqual(0)
}

/** Resolves with the write's result, or fails the test when it has not ended `ABORT_BOUND_MS` after the abort. */
async function endsAfterAbort(write: Promise<SinkResult>): Promise<SinkResult> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`The write did not end within ${ABORT_BOUND_MS} ms of its signal aborting.`)), ABORT_BOUND_MS)
  })
  try {
    return await Promise.race([write, bound])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Registers the sink conformance suite.
 *
 * @param name - names the sink in the test titles.
 * @param fixture - see {@link SinkFixture}.
 */
export function describeSinkConformance(name: string, fixture: SinkFixture): void {
  describe(`Sink conformance: ${name}`, () => {
    afterEach(async () => {
      await fixture.cleanup?.()
    })

    it('has a name, writes a batch, answers success, and the backend holds every activity unchanged', async () => {
      const sink = await fixture.create()
      expect(typeof sink.name).toBe('string')
      expect(sink.name.length).toBeGreaterThan(0)
      const batch = activities(5)
      const result = await sink.write(batch, { signal: new AbortController().signal })
      expectSinkResult(result)
      expect(result).toEqual({ type: 'success' })
      const stored = new Map((await fixture.stored()).map((activity) => [activity.id, activity]))
      for (const activity of batch) expect(stored.get(activity.id)).toMatchObject(activity)
      await sink.close?.()
    })

    it('stores a batch written twice once (retries are safe)', async () => {
      const sink = await fixture.create()
      const batch = activities(3)
      const signal = new AbortController().signal
      expect((await sink.write(batch, { signal })).type).toBe('success')
      expect((await sink.write(batch, { signal })).type).toBe('success')
      const stored = (await fixture.stored()).filter((activity) => batch.some((item) => item.id === activity.id))
      expect(stored).toHaveLength(batch.length)
      await sink.close?.()
    })

    it('answers a write whose signal is already aborted with a result, never a rejection or a hang', async () => {
      const sink = await fixture.create()
      const controller = new AbortController()
      controller.abort(new Error('aborted before the write'))
      const batch = activities(2)
      const result = await endsAfterAbort(sink.write(batch, { signal: controller.signal }))
      expectSinkResult(result)
      // A sink may finish a write it had no reason to stop; if it says success, it must be true.
      if (result.type === 'success') {
        const stored = new Set((await fixture.stored()).map((activity) => activity.id))
        for (const activity of batch) expect(stored.has(activity.id)).toBe(true)
      }
      await sink.close?.()
    })

    if (fixture.createHanging) {
      it('ends a write that hangs once its signal aborts, with a result that is not success', async () => {
        const sink = await fixture.createHanging!()
        const controller = new AbortController()
        const write = sink.write(activities(1), { signal: controller.signal })
        setTimeout(() => controller.abort(new Error('write timeout')), 50)
        const result = await endsAfterAbort(write)
        expectSinkResult(result)
        expect(result.type).not.toBe('success')
        await sink.close?.()
      })
    }
  })
}
