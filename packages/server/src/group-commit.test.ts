import { memoryStore, uuidv7, type Activity, type Sink, type SinkResult, type Store } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import { createGroupCommit, groupCommitLimits, type GroupCommitObserver, type GroupCommitOptions } from './group-commit'
import { createStoreCaller } from './store-call'
import { ADMIN, startServer, TRANSPORTS, type TestServer } from '../test/test-server'

/** A promise settled from outside. */
function gate<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((res) => (resolve = res))
  return { promise, resolve }
}

function activity(activityType = 'x'): Activity {
  const now = Date.now()
  return { id: uuidv7(now), activityType, timestamp: new Date(now).toISOString() }
}

/**
 * A sink that records each batch and holds every write until the test releases it, so the test
 * decides which requests overlap (never the clock). `answer` says what each write returns.
 */
function heldSink(answer: (batch: Activity[]) => SinkResult = () => ({ type: 'success' })) {
  const batches: Activity[][] = []
  const waiting: (() => void)[] = []
  const sink: Sink = {
    name: 'held',
    async write(batch) {
      batches.push(batch)
      const release = gate()
      waiting.push(release.resolve)
      await release.promise
      return answer(batch)
    },
  }
  /** Releases the writes started so far, oldest first. */
  const release = () => {
    for (const resume of waiting.splice(0)) resume()
  }
  return { sink, batches, release, waiting }
}

/** Waits until `check` holds, yielding to the event loop in between (no fixed sleeps). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve))
}

function committer(sink: Sink, options: GroupCommitOptions | false = {}, timeoutMs = 10_000, errors: unknown[] = [], observer?: GroupCommitObserver) {
  return createGroupCommit(
    sink,
    groupCommitLimits(options),
    createStoreCaller(sink.name, timeoutMs, (error) => errors.push(error)),
    timeoutMs,
    (error) => errors.push(error),
    observer,
  )
}

/** An observer that records each write it is told of. */
function writeLog() {
  const writes: { activities: number; seconds: number }[] = []
  const observer: GroupCommitObserver = { queued: () => {}, wrote: (activities, seconds) => writes.push({ activities, seconds }) }
  return { writes, observer }
}

describe('group commit', () => {
  it('writes the requests that arrive while a write is running together, in the next write', async () => {
    const { sink, batches, release, waiting } = heldSink()
    const commit = committer(sink, { maxConcurrentWrites: 1 })
    const first = commit.write([activity('first')])
    await until(() => waiting.length === 1)
    const rest = Array.from({ length: 5 }, (_, index) => commit.write([activity(`later-${index}`), activity(`later-${index}b`)]))
    release()
    await first
    await until(() => waiting.length === 1)
    expect(batches.map((batch) => batch.length)).toEqual([1, 10])
    release()
    expect(await Promise.all(rest)).toEqual(Array.from({ length: 5 }, () => ({ type: 'success' })))
  })

  it('answers no request before the write holding its activities has settled', async () => {
    const { sink, release, waiting } = heldSink()
    const commit = committer(sink)
    const events: string[] = []
    const pending = commit.write([activity()]).then(() => events.push('answered'))
    await until(() => waiting.length === 1)
    await new Promise((resolve) => setImmediate(resolve))
    events.push('write settled')
    release()
    await pending
    expect(events).toEqual(['write settled', 'answered'])
  })

  it('gives each request only its own rejected activities', async () => {
    const refused = activity('refused')
    const { sink, release, waiting } = heldSink((batch) =>
      batch.some((each) => each.id === refused.id) ? { type: 'success', rejected: [{ id: refused.id, error: 'deleted person' }] } : { type: 'success' },
    )
    const commit = committer(sink, { maxConcurrentWrites: 1 })
    const blocker = commit.write([activity()])
    await until(() => waiting.length === 1)
    const mine = commit.write([activity(), refused])
    const theirs = commit.write([activity()])
    release()
    await blocker
    await until(() => waiting.length === 1)
    release()
    expect(await mine).toEqual({ type: 'success', rejected: [{ id: refused.id, error: 'deleted person' }] })
    expect(await theirs).toEqual({ type: 'success' })
  })

  it('answers every request of a write the store asks to retry, and reports the error once', async () => {
    const errors: unknown[] = []
    const failure = new Error('database restarting')
    const { sink, release, waiting } = heldSink(() => ({ type: 'retryable', retryInMs: 2000, error: failure }))
    const commit = committer(sink, { maxConcurrentWrites: 1 }, 10_000, errors)
    const blocker = commit.write([activity()])
    await until(() => waiting.length === 1)
    const overlapping = [commit.write([activity()]), commit.write([activity()])]
    release()
    await blocker
    await until(() => waiting.length === 1)
    release()
    expect(await Promise.all(overlapping)).toEqual([
      { type: 'retryable', retryInMs: 2000, error: failure },
      { type: 'retryable', retryInMs: 2000, error: failure },
    ])
    // One for the first write, one for the shared second write: not one per request.
    expect(errors).toEqual([failure, failure])
  })

  it('writes each request alone when the store refuses a shared write as a whole, so one bad request fails alone, and tells its observer of each write', async () => {
    const poison = activity('poison')
    const { sink, batches, release, waiting } = heldSink((batch) => (batch.some((each) => each.id === poison.id) ? { type: 'failure', error: new Error('bad row') } : { type: 'success' }))
    const { writes, observer } = writeLog()
    const commit = committer(sink, { maxConcurrentWrites: 1 }, 10_000, [], observer)
    const blocker = commit.write([activity()])
    await until(() => waiting.length === 1)
    const good = commit.write([activity('good')])
    const bad = commit.write([poison])
    release()
    await blocker
    // The shared write, then each request on its own.
    for (let write = 0; write < 3; write++) {
      await until(() => waiting.length === 1)
      release()
    }
    expect(await good).toEqual({ type: 'success' })
    expect((await bad).type).toBe('failure')
    expect(batches.map((batch) => batch.map((each) => each.activityType))).toEqual([['x'], ['good', 'poison'], ['good'], ['poison']])
    // The shared write and each request's own retry are writes of their own.
    expect(writes.map((write) => write.activities)).toEqual([1, 2, 1, 1])
    expect(writes.every((write) => write.seconds >= 0 && write.seconds < 10)).toBe(true)
  })

  it('keeps each write within maxActivities, never splitting a request', async () => {
    const { sink, batches, release, waiting } = heldSink()
    const commit = committer(sink, { maxConcurrentWrites: 1, maxActivities: 4 })
    const blocker = commit.write([activity()])
    await until(() => waiting.length === 1)
    const queued = [3, 3, 1, 6].map((size) => commit.write(Array.from({ length: size }, () => activity())))
    for (let write = 0; write < 4; write++) {
      release()
      await until(() => waiting.length === 1 || batches.length === 4)
    }
    release()
    await blocker
    await Promise.all(queued)
    expect(batches.map((batch) => batch.length)).toEqual([1, 3, 4, 6])
  })

  it('writes an id that two overlapping requests carry once, and answers both', async () => {
    const { sink, batches, release, waiting } = heldSink()
    const commit = committer(sink, { maxConcurrentWrites: 1 })
    const blocker = commit.write([activity()])
    await until(() => waiting.length === 1)
    const retried = activity()
    const answers = [commit.write([retried]), commit.write([retried, activity()])]
    release()
    await blocker
    await until(() => waiting.length === 1)
    release()
    expect(await Promise.all(answers)).toEqual([{ type: 'success' }, { type: 'success' }])
    expect(batches[1]!.map((each) => each.id).filter((id) => id === retried.id)).toHaveLength(1)
  })

  it('refuses with 503 past maxQueuedActivities instead of queueing without bound', async () => {
    const { sink, release, waiting } = heldSink()
    const commit = committer(sink, { maxConcurrentWrites: 1, maxQueuedActivities: 5 })
    const blocker = commit.write([activity()])
    await until(() => waiting.length === 1)
    const fits = commit.write(Array.from({ length: 5 }, () => activity()))
    await expect(commit.write([activity()])).rejects.toMatchObject({ status: 503, headers: { 'retry-after': '1' } })
    release()
    await blocker
    await until(() => waiting.length === 1)
    release()
    expect(await fits).toEqual({ type: 'success' })
  })

  it('answers 503 to requests that waited for a slot longer than the store time limit, without writing them', async () => {
    const { sink, batches, release, waiting } = heldSink()
    const errors: unknown[] = []
    const commit = committer(sink, { maxConcurrentWrites: 1 }, 50, errors)
    const stalled = commit.write([activity()])
    await until(() => waiting.length === 1)
    const queued = commit.write([activity('queued')])
    // The stalled write times out (503) after 50 ms; by then the queued request has waited as long.
    await expect(stalled).rejects.toMatchObject({ status: 503 })
    await expect(queued).rejects.toMatchObject({ status: 503, headers: { 'retry-after': '5' } })
    expect(batches).toHaveLength(1)
    release()
  })

  it('holds a slot until the store write settles, even after its request timed out, so a stalled store never has more than maxConcurrentWrites writes', async () => {
    const { sink, batches, release, waiting } = heldSink()
    const { writes, observer } = writeLog()
    const commit = committer(sink, { maxConcurrentWrites: 2 }, 50, [], observer)
    const stalled: Promise<SinkResult>[] = []
    for (const count of [1, 2]) {
      stalled.push(commit.write([activity()]))
      stalled.at(-1)!.catch(() => {})
      await until(() => waiting.length === count)
    }
    expect((await Promise.allSettled(stalled)).map((outcome) => outcome.status === 'rejected' && (outcome.reason as { status: number }).status)).toEqual([503, 503])
    // Each write is observed when the handler gave it up, at the store time limit (timers may fire a little early).
    expect(writes.map((write) => write.activities)).toEqual([1, 1])
    expect(writes.every((write) => write.seconds >= 0.045)).toBe(true)
    // Both requests have had their 503, but the store still works on both writes: no third one joins them.
    const meanwhile = commit.write([activity('meanwhile')])
    await expect(meanwhile).rejects.toMatchObject({ status: 503, headers: { 'retry-after': '5' } })
    expect(batches).toHaveLength(2)
    release()
    const after = commit.write([activity('after')])
    await until(() => waiting.length === 1)
    expect(batches).toHaveLength(3)
    release()
    expect(await after).toEqual({ type: 'success' })
    // The stalled writes settling is not a second observation of them.
    expect(writes).toHaveLength(3)
  })

  it('writes each request on its own with groupCommit: false', async () => {
    const { sink, batches, release, waiting } = heldSink()
    const commit = committer(sink, false)
    const answers = [commit.write([activity()]), commit.write([activity()]), commit.write([activity()])]
    await until(() => waiting.length === 3)
    release()
    await Promise.all(answers)
    expect(batches.map((batch) => batch.length)).toEqual([1, 1, 1])
  })

  it('refuses options it cannot use, naming them', () => {
    expect(() => groupCommitLimits({ maxActivities: 0 })).toThrow(/options\.groupCommit\.maxActivities must be a positive number/)
    expect(() => groupCommitLimits({ maxWaitMs: -1 })).toThrow(/options\.groupCommit\.maxWaitMs must be a number of milliseconds/)
    expect(() => groupCommitLimits({ maxConcurrentWrites: Number.NaN })).toThrow(TypeError)
    expect(groupCommitLimits({ maxWaitMs: 0 })).toMatchObject({ maxWaitMs: 0, maxActivities: 1000, maxConcurrentWrites: 2 })
  })
})

describe.each(TRANSPORTS)('group commit through the %s', (transport) => {
  let server: TestServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  it('answers concurrent requests from one shared write, each with its own ids, all stored', async () => {
    const base = memoryStore()
    const held = heldSink()
    // Each write is recorded and held by the test, then stored by the memory store.
    const sink: Sink = {
      name: 'memory',
      async write(batch, options) {
        await held.sink.write(batch, options)
        return base.sink.write(batch, options)
      },
    }
    server = await startServer({ store: { ...base, sink }, groupCommit: { maxConcurrentWrites: 1 }, metrics: { authenticate: () => true } }, transport)
    const post = (body: unknown) =>
      fetch(`${server!.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const queuedActivities = async () => {
      const text = await (await fetch(`${server!.url}/metrics`)).text()
      return Number(/^usertracking_ingest_queued_activities (\d+)$/m.exec(text)?.[1])
    }
    const first = post({ activityType: 'first', anonymousId: 'a0' })
    await until(() => held.waiting.length === 1)
    const others = Array.from({ length: 8 }, (_, index) => post([{ activityType: 'page_view', anonymousId: `a${index + 1}` }, { activityType: 'click', anonymousId: `a${index + 1}` }]))
    // Every request is read, validated and waiting behind the held write (the gauge says so).
    while ((await queuedActivities()) < 16) await new Promise((resolve) => setImmediate(resolve))
    held.release()
    expect((await first).status).toBe(200)
    await until(() => held.waiting.length === 1)
    held.release()
    const answers = await Promise.all(others.map(async (response) => (await response).json() as Promise<{ accepted: number; ids: string[] }>))
    expect(held.batches.map((batch) => batch.length)).toEqual([1, 16])
    expect(answers.map((answer) => answer.accepted)).toEqual(Array(8).fill(2))
    const ids = answers.flatMap((answer) => answer.ids)
    expect(new Set(ids).size).toBe(16)
    // Each request got the ids of its own activities, which the second write held.
    expect(held.batches[1]!.map((each) => each.id).sort()).toEqual([...ids].sort())
    const stored = (await (await fetch(`${server.url}/api/activities?limit=100`, { headers: ADMIN })).json()) as { items: Activity[] }
    expect(stored.items).toHaveLength(17)
    expect(await queuedActivities()).toBe(0)
    // The two writes, as an operator sees them: one of 1 activity, one of 16.
    const text = await (await fetch(`${server.url}/metrics`)).text()
    expect(text).toContain('usertracking_ingest_write_activities_count 2')
    expect(text).toContain('usertracking_ingest_write_activities_sum 17')
    expect(text).toContain('usertracking_ingest_write_activities_bucket{le="1"} 1')
    expect(text).toContain('usertracking_ingest_write_activities_bucket{le="10"} 1')
    expect(text).toContain('usertracking_ingest_write_activities_bucket{le="20"} 2')
    expect(text).toContain('usertracking_ingest_write_duration_seconds_count 2')
  })
})
