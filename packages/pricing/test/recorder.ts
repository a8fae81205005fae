import { setImmediate as nextTurn } from 'node:timers/promises'
import { createTracker, memorySink, type Activity, type ActivityInput, type TrackerOptions } from '@usertracking/core'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { startFakeProvider, type FakeProvider } from './fake-provider'

/** A real tracker over a memory sink, that can wait for what `withActivity` records. */
export interface Recorder {
  /** Pass this to `withActivity`. */
  tracker: { track(input: ActivityInput): string | undefined }
  /** Resolves with every activity once `count` were tracked and delivered to the sink. */
  activities(count?: number): Promise<Activity[]>
  /** Every activity delivered so far, after one event-loop turn (every pending microtask ran). */
  settled(): Promise<Activity[]>
  shutdown(): Promise<void>
}

/** A recorder whose tracker has `options` (its sink is the memory sink). */
export function recorder(options: Omit<TrackerOptions, 'sinks'> = {}): Recorder {
  const sink = memorySink()
  const real = createTracker({ ...options, sinks: [sink], debounceTime: 0 })
  let tracked = 0
  const waiters: { count: number; resolve: () => void }[] = []
  return {
    tracker: {
      track(input) {
        const id = real.track(input)
        tracked++
        for (const waiter of waiters.filter((candidate) => tracked >= candidate.count)) {
          waiters.splice(waiters.indexOf(waiter), 1)
          waiter.resolve()
        }
        return id
      },
    },
    async activities(count = 1) {
      if (tracked < count) await new Promise<void>((resolve) => waiters.push({ count, resolve }))
      await real.flush()
      return sink.activities
    },
    async settled() {
      await nextTurn()
      await real.flush()
      return sink.activities
    },
    async shutdown() {
      await real.shutdown()
    },
  }
}

/** What a test file against the fake provider uses; see {@link fakeProviderSuite}. */
export interface FakeProviderSuite {
  /** The file's fake provider (started before its first test). */
  readonly provider: FakeProvider
  /** A recorder that is shut down after the test. */
  recorder(options?: Omit<TrackerOptions, 'sinks'>): Recorder
}

/** Registers a test file's hooks: one fake provider for the file, and every recorder shut down after its test. */
export function fakeProviderSuite(): FakeProviderSuite {
  let provider: FakeProvider | undefined
  const open: Recorder[] = []
  beforeAll(async () => {
    provider = await startFakeProvider()
  })
  afterAll(() => provider?.close())
  afterEach(async () => {
    await Promise.all(open.splice(0).map((recording) => recording.shutdown()))
  })
  return {
    get provider() {
      if (!provider) throw new Error('The fake provider starts in beforeAll.')
      return provider
    },
    recorder(options) {
      const recording = recorder(options)
      open.push(recording)
      return recording
    },
  }
}
