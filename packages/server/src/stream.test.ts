import { memoryStore, type Activity, type Store } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import type { Principal } from './auth'
import { createActivityHandler } from './handler'
import type { LiveBus, LiveBusPublishResult } from './live-bus'
import { ADMIN, startServer, type TestServer } from '../test/test-server'

let server: TestServer | undefined
let others: TestServer[] = []
afterEach(async () => {
  await server?.close()
  server = undefined
  for (const other of others) await other.close()
  others = []
})

/**
 * An in-process bus for handlers in one process (`@usertracking/redis` carries the same contract
 * between processes): every publish reaches every subscriber, the publisher's own included.
 */
function sharedBus(): { join(): LiveBus; down: boolean } {
  const subscribers = new Set<(activities: Activity[]) => void>()
  const state = {
    down: false,
    join(): LiveBus {
      return {
        name: 'in-process',
        async publish(activities): Promise<LiveBusPublishResult> {
          if (state.down) return { type: 'local_only', error: new Error('bus down') }
          for (const subscriber of subscribers) subscriber(structuredClone([...activities]))
          return { type: 'sent' }
        },
        subscribe(onActivities) {
          const subscriber = (activities: Activity[]) => onActivities(activities)
          subscribers.add(subscriber)
          return () => subscribers.delete(subscriber)
        },
      }
    },
  }
  return state
}

interface ServerSentEvent {
  id?: string
  event: string
  data: string
}

/** A minimal EventSource over fetch (Node 20 has none): frames split per the SSE spec, comments kept. */
async function connect(path: string, headers: Record<string, string> = ADMIN) {
  const controller = new AbortController()
  const response = await fetch(`${server!.url}${path}`, { headers, signal: controller.signal })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toContain('text/event-stream')
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  const events: ServerSentEvent[] = []
  const comments: string[] = []
  let buffer = ''
  let waiters: (() => void)[] = []
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        buffer += value
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event: ServerSentEvent = { event: 'message', data: '' }
          let hasData = false
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim())
            const [field, ...rest] = line.split(': ')
            const value = rest.join(': ')
            if (field === 'id') event.id = value
            if (field === 'event') event.event = value
            if (field === 'data') {
              event.data += value
              hasData = true
            }
          }
          if (hasData) events.push(event)
        }
        for (const wake of waiters) wake()
        waiters = []
      }
    } catch {
      // Aborted by close().
    }
  })()
  return {
    events,
    comments,
    /** Waits until `count` events have arrived. */
    async take(count: number): Promise<ServerSentEvent[]> {
      const deadline = Date.now() + 5000
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`Expected ${count} events, got ${events.length}.`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 100)
        })
      }
      return events.slice(0, count)
    },
    close() {
      controller.abort()
    },
  }
}

async function post(body: unknown, headers: Record<string, string> = {}): Promise<string[]> {
  const response = await fetch(`${server!.url}/api/activity`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { ids: string[] }).ids
}

const activityOf = (event: ServerSentEvent) => JSON.parse(event.data) as Activity

describe('live stream', () => {
  it('refuses live options it cannot use, naming each', () => {
    const store = memoryStore()
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ heartbeatMs: 0 }, /options\.live\.heartbeatMs must be a positive number; got 0/],
      [{ bufferSize: 1.5 }, /options\.live\.bufferSize must be a positive whole number; got 1\.5/],
      [{ pollIntervalMs: -1 }, /options\.live\.pollIntervalMs/],
      [{ pollWindowMs: Number.NaN }, /options\.live\.pollWindowMs/],
      [{ idleTimeoutMs: '5000' }, /options\.live\.idleTimeoutMs/],
      [{ heartbeatMs: 2 ** 31 }, /options\.live\.heartbeatMs must be at most 2147483647/],
      [{ bus: {} }, /options\.live\.bus must be a live bus with publish and subscribe/],
    ]
    for (const [live, message] of cases) expect(() => createActivityHandler({ store, live }), JSON.stringify(live)).toThrow(message)
    expect(() => createActivityHandler({ store, live: 'on' as never })).toThrow(/options\.live must be an object/)
    createActivityHandler({ store, live: { heartbeatMs: 1000, bufferSize: 10, pollIntervalMs: 500, pollWindowMs: 60_000, idleTimeoutMs: 1000 } }).close()
    // The handler's own time limits are timers too: past what a timer keeps, each would fire at once.
    expect(() => createActivityHandler({ store, storeTimeoutMs: 2 ** 31 })).toThrow(/options\.storeTimeoutMs must be at most 2147483647/)
    expect(() => createActivityHandler({ store, bodyTimeoutMs: 2 ** 31 })).toThrow(/options\.bodyTimeoutMs must be at most 2147483647/)
  })

  it('delivers an activity posted after it connected', async () => {
    server = await startServer()
    await post({ activityType: 'before' })
    const stream = await connect('/api/activities/stream')
    const [id] = await post({ activityType: 'after', userId: 'u1', tokenUsage: 10 }, ADMIN)
    const [event] = await stream.take(1)
    expect(event!.event).toBe('activity')
    expect(activityOf(event!)).toMatchObject({ id, activityType: 'after', userId: 'u1', tokenUsage: { total: 10 } })
    stream.close()
  })

  it('resumes after a reconnect with Last-Event-ID, without gaps or repeats', async () => {
    server = await startServer()
    const first = await connect('/api/activities/stream')
    const [a] = await post({ activityType: 'a' })
    const [seen] = await first.take(1)
    first.close()
    const missed = await post([{ activityType: 'b' }, { activityType: 'c' }])
    const second = await connect('/api/activities/stream', { ...ADMIN, 'last-event-id': seen!.id! })
    const [d] = await post({ activityType: 'd' })
    const events = await second.take(3)
    expect(events.map((event) => activityOf(event).id)).toEqual([...missed, d])
    expect(events.map((event) => activityOf(event).id)).not.toContain(a)
    const ids = events.map((event) => event.id!)
    expect(new Set([seen!.id, ...ids]).size).toBe(4)
    second.close()
  })

  it('tells a client whose Last-Event-ID it cannot serve to reload', async () => {
    server = await startServer()
    const stream = await connect('/api/activities/stream', { ...ADMIN, 'last-event-id': 'from-another-server-17' })
    const [event] = await stream.take(1)
    expect(event!.event).toBe('reset')
    stream.close()
  })

  it('asks for a reload instead of resuming with a gap once the backlog has moved on', async () => {
    server = await startServer({ live: { bufferSize: 5 } })
    const first = await connect('/api/activities/stream')
    await post({ activityType: 'a' })
    const [seen] = await first.take(1)
    first.close()
    await post(Array.from({ length: 12 }, () => ({ activityType: 'missed' })))
    const second = await connect('/api/activities/stream', { ...ADMIN, 'last-event-id': seen!.id! })
    const [event] = await second.take(1)
    expect(event!.event).toBe('reset')
    second.close()
  })

  it("sends a user only their own activities, and an admin everyone's", async () => {
    const authenticate = (request: Request): Principal | null => {
      const user = request.headers.get('x-user')
      return user ? { userId: user, admin: user === 'admin' } : null
    }
    server = await startServer({ authenticate })
    const alice = await connect('/api/activities/stream?userId=bob', { 'x-user': 'alice' })
    const admin = await connect('/api/activities/stream', { 'x-user': 'admin' })
    await post({ activityType: 'x' }, { 'x-user': 'bob' })
    const [mine] = await post({ activityType: 'y' }, { 'x-user': 'alice' })
    const [event] = await alice.take(1)
    expect(activityOf(event!).id).toBe(mine)
    expect((await admin.take(2)).map((item) => activityOf(item).userId)).toEqual(['bob', 'alice'])
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(alice.events).toHaveLength(1)
    alice.close()
    admin.close()
  })

  it('sends heartbeats on a quiet stream', async () => {
    server = await startServer({ live: { heartbeatMs: 30 } })
    const stream = await connect('/api/activities/stream')
    await expect.poll(() => stream.comments.filter((comment) => comment === 'heartbeat').length, { timeout: 2000 }).toBeGreaterThanOrEqual(2)
    stream.close()
  })

  it('polls a store that cannot push, for activities written by other processes', async () => {
    const { subscribe: _subscribe, ...rest } = memoryStore()
    const store: Store = rest
    server = await startServer({ store, live: { pollIntervalMs: 20 } })
    const old = { id: crypto.randomUUID(), activityType: 'already-there', timestamp: new Date().toISOString() }
    await store.sink.write([old], { signal: new AbortController().signal })
    const stream = await connect('/api/activities/stream')
    // The first poll only learns what is stored; keep writing as another process would until one arrives.
    const written: string[] = []
    const deadline = Date.now() + 5000
    while (stream.events.length === 0 && Date.now() < deadline) {
      const elsewhere = { id: crypto.randomUUID(), activityType: 'elsewhere', timestamp: new Date().toISOString() }
      written.push(elsewhere.id)
      await store.sink.write([elsewhere], { signal: new AbortController().signal })
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const [event] = await stream.take(1)
    expect(written).toContain(activityOf(event!).id)
    expect(stream.events.map((item) => activityOf(item).id)).not.toContain(old.id)
    stream.close()
  })

  it("streams what another handler ingested through the bus, once, and its own while the bus is down", async () => {
    // Separate stores: only the bus links the two handlers. Each store pushes its writes to its own
    // handler before that handler publishes them, which must not keep them off the bus.
    const bus = sharedBus()
    server = await startServer({ store: memoryStore(), live: { bus: bus.join() } })
    const other = await startServer({ store: memoryStore(), live: { bus: bus.join() } })
    others.push(other)
    // A stream open on the other handler too: its feed listens to its store from then on.
    const watching = new AbortController()
    const otherStream = await fetch(`${other.url}/api/activities/stream`, { headers: ADMIN, signal: watching.signal })
    expect(otherStream.status).toBe(200)
    const stream = await connect('/api/activities/stream')
    const postTo = async (target: TestServer, body: unknown) => {
      const response = await fetch(`${target.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json', ...ADMIN }, body: JSON.stringify(body) })
      expect(response.status).toBe(200)
      return ((await response.json()) as { ids: string[] }).ids
    }
    const elsewhere = await postTo(other, [{ activityType: 'elsewhere-1' }, { activityType: 'elsewhere-2' }])
    // The bus echoes this handler's own publish back to it: still one event.
    const here = await postTo(server, { activityType: 'here' })
    bus.down = true
    const whileDown = await postTo(server, { activityType: 'while-down' })
    const events = await stream.take(4)
    expect(events.map((event) => activityOf(event).id)).toEqual([...elsewhere, ...here, ...whileDown])
    bus.down = false
    const after = await postTo(other, { activityType: 'after' })
    const [next] = (await stream.take(5)).slice(4)
    expect(activityOf(next!).id).toBe(after[0])
    expect(new Set(stream.events.map((event) => activityOf(event).id)).size).toBe(stream.events.length)
    stream.close()
    watching.abort()
  })

  it('reports a bus that throws instead of answering, and keeps streaming', async () => {
    const errors: unknown[] = []
    const broken: LiveBus = {
      name: 'broken',
      publish: () => Promise.reject(new Error('bus exploded')),
      subscribe: () => {
        throw new Error('cannot subscribe')
      },
    }
    server = await startServer({ live: { bus: broken }, onError: (error) => errors.push(error) })
    const stream = await connect('/api/activities/stream')
    const [id] = await post({ activityType: 'still-streamed' }, ADMIN)
    const [event] = await stream.take(1)
    expect(activityOf(event!).id).toBe(id)
    await expect.poll(() => errors.map((error) => (error as Error).message)).toEqual(['cannot subscribe', 'bus exploded'])
    stream.close()
  })

  it('counts open streams in the metrics, and forgets them when clients leave', async () => {
    server = await startServer({ metrics: { authenticate: () => true } })
    const gauge = async () => /usertracking_live_streams (\d+)/.exec(await (await fetch(`${server!.url}/metrics`)).text())![1]
    const one = await connect('/api/activities/stream')
    const two = await connect('/api/activities/stream')
    await expect.poll(gauge).toBe('2')
    one.close()
    two.close()
    await expect.poll(gauge).toBe('0')
  })
})
