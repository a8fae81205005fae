import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { isExpired, resolveRetention, startRetentionJob } from './retention'

describe('resolveRetention', () => {
  it('fills the defaults and converts days to milliseconds', () => {
    expect(resolveRetention(undefined, 'x')).toBeUndefined()
    expect(resolveRetention({ maxAgeDays: 1.5 }, 'x')).toEqual({ maxAgeMs: 129_600_000, intervalMs: 3_600_000, runInBackground: true })
    expect(resolveRetention({ maxAgeDays: 90, intervalMs: 60_000, runInBackground: false }, 'x')).toEqual({
      maxAgeMs: 90 * 86_400_000,
      intervalMs: 60_000,
      runInBackground: false,
    })
  })

  it('names the field and the store of a value it refuses', () => {
    for (const [retention, field] of [
      [{ maxAgeDays: 0 }, 'maxAgeDays'],
      [{ maxAgeDays: -1 }, 'maxAgeDays'],
      [{ maxAgeDays: Number.NaN }, 'maxAgeDays'],
      [{ maxAgeDays: Infinity }, 'maxAgeDays'],
      [{ maxAgeDays: '30' }, 'maxAgeDays'],
      [{}, 'maxAgeDays'],
      [{ maxAgeDays: 30, intervalMs: 0 }, 'intervalMs'],
      [{ maxAgeDays: 30, intervalMs: 2 ** 31 }, 'intervalMs'],
      [{ maxAgeDays: 30, runInBackground: 'yes' }, 'runInBackground'],
    ] as const) {
      expect(() => resolveRetention(retention as never, 'postgres'), JSON.stringify(retention)).toThrow(
        `[usertracking] [postgres] options.retention.${field}`,
      )
    }
    expect(() => resolveRetention(null as never, 'memory')).toThrow(TypeError)
  })
})

describe('isExpired', () => {
  const cutoff = Date.UTC(2025, 5, 1)
  it('goes by the earlier of timestamp and receivedAt', () => {
    expect(isExpired({ timestamp: '2025-05-31T23:59:59.999Z' }, cutoff)).toBe(true)
    expect(isExpired({ timestamp: '2025-06-01T00:00:00.000Z' }, cutoff)).toBe(false)
    expect(isExpired({ timestamp: '2099-01-01T00:00:00.000Z', receivedAt: '2025-05-01T00:00:00.000Z' }, cutoff)).toBe(true)
    expect(isExpired({ timestamp: '2025-01-01T00:00:00.000Z', receivedAt: '2025-07-01T00:00:00.000Z' }, cutoff)).toBe(true)
    expect(isExpired({ timestamp: '2025-06-02T00:00:00.000Z', receivedAt: '2025-06-02T00:00:01.000Z' }, cutoff)).toBe(false)
  })
})

describe('startRetentionJob', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('runs first after a minute (or intervalMs, if shorter), then intervalMs after each run ends, never two at once', async () => {
    const starts: number[] = []
    let finish: (() => void) | undefined
    const job = startRetentionJob(
      () => {
        starts.push(Date.now())
        return new Promise<void>((resolve) => (finish = resolve))
      },
      3_600_000,
      () => {},
    )
    const start = Date.now()
    await vi.advanceTimersByTimeAsync(59_999)
    expect(starts).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(starts).toEqual([start + 60_000])
    // The run takes five hours: no second run meanwhile.
    await vi.advanceTimersByTimeAsync(5 * 3_600_000)
    expect(starts).toHaveLength(1)
    finish!()
    await vi.advanceTimersByTimeAsync(3_600_000)
    expect(starts).toEqual([start + 60_000, start + 60_000 + 6 * 3_600_000])
    finish!()
    await job.stop()

    const short: number[] = []
    const quick = startRetentionJob(async () => void short.push(Date.now()), 50, () => {})
    const from = Date.now()
    await vi.advanceTimersByTimeAsync(160)
    expect(short).toEqual([from + 50, from + 100, from + 150])
    await quick.stop()
  })

  it('reports a failed run, a throwing one and a throwing warning path without stopping', async () => {
    const errors: unknown[] = []
    let calls = 0
    const job = startRetentionJob(
      () => {
        calls++
        if (calls === 1) throw new Error('thrown')
        if (calls === 2) return Promise.reject(new Error('rejected'))
        return Promise.resolve()
      },
      10,
      (error) => errors.push(error),
    )
    await vi.advanceTimersByTimeAsync(35)
    expect(calls).toBe(3)
    expect(errors.map((error) => (error as Error).message)).toEqual(['thrown', 'rejected'])
    await job.stop()

    let attempts = 0
    const broken = startRetentionJob(
      () => {
        attempts++
        return Promise.reject(new Error('again'))
      },
      10,
      () => {
        throw new Error('the warning path is broken too')
      },
    )
    await vi.advanceTimersByTimeAsync(35)
    expect(attempts).toBe(3)
    await broken.stop()
  })

  it('stop() aborts the running run, waits for it, and starts no other', async () => {
    let signal: AbortSignal | undefined
    let calls = 0
    const errors: unknown[] = []
    const job = startRetentionJob(
      (given) => {
        calls++
        signal = given
        // A run that notices the abort between two batches and gives up with an error.
        return new Promise((_, reject) => given.addEventListener('abort', () => setTimeout(() => reject(new Error('stopped')), 5)))
      },
      10,
      (error) => errors.push(error),
    )
    await vi.advanceTimersByTimeAsync(10)
    expect(calls).toBe(1)
    let stopped = false
    const stopping = job.stop().then(() => (stopped = true))
    expect(signal!.aborted).toBe(true)
    await vi.advanceTimersByTimeAsync(4)
    expect(stopped).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    await stopping
    expect(stopped).toBe(true)
    await vi.advanceTimersByTimeAsync(1000)
    expect(calls).toBe(1)
    // The failure of a run stopped on purpose is not a warning.
    expect(errors).toEqual([])
    expect(vi.getTimerCount()).toBe(0)
  })
})
