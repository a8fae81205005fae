import { memoryStore, type Activity, type Store } from '@usertracking/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ActivityHandlerOptions } from './handler'
import { HttpError } from './errors'
import { ADMIN, startServer as startOn, TRANSPORTS, type TestServer } from '../test/test-server'

let server: TestServer | undefined
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)
beforeEach(() => {
  unhandled.length = 0
  process.on('unhandledRejection', onUnhandled)
})
afterEach(async () => {
  process.off('unhandledRejection', onUnhandled)
  await server?.close()
  server = undefined
})

/** A promise settled from outside: the stalled database call, released when the test says. */
function gate<T>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Lets the event loop run its queued callbacks (a late settlement's handlers) before asserting. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

describe.each(TRANSPORTS)('through the %s', (transport) => {
  const startServer = (options?: Partial<ActivityHandlerOptions>) => startOn(options, transport)

  describe('the store time limit', () => {
    it('answers 503 with Retry-After when list stalls, and handles the late failure', async () => {
      const stalled = gate<never>()
      const errors: unknown[] = []
      const store: Store = { ...memoryStore(), list: () => stalled.promise }
      server = await startServer({ store, storeTimeoutMs: 50, onError: (error) => errors.push(error) })
      const response = await fetch(`${server.url}/api/activities`, { headers: ADMIN })
      expect(response.status).toBe(503)
      expect(response.headers.get('retry-after')).toBe('5')
      expect(((await response.json()) as { error: string }).error).toContain('did not answer within 50 ms')
      // The database gives up long after the client had its answer.
      stalled.reject(new Error('connection terminated'))
      await settle()
      expect(errors).toEqual([expect.objectContaining({ status: 503 }), new Error('connection terminated')])
      expect(unhandled).toEqual([])
    })

    it('answers 503 when stats stalls, and serves again once the store answers', async () => {
      const base = memoryStore()
      let stall = true
      const store: Store = { ...base, stats: (query) => (stall ? new Promise(() => {}) : base.stats(query)) }
      server = await startServer({ store, storeTimeoutMs: 50 })
      expect((await fetch(`${server.url}/api/activities/stats`, { headers: ADMIN })).status).toBe(503)
      stall = false
      expect((await fetch(`${server.url}/api/activities/stats`, { headers: ADMIN })).status).toBe(200)
    })

    it('answers 503 to a stalled write; the write that lands late is not duplicated by the retry', async () => {
      const base = memoryStore()
      const stalled = gate<void>()
      let first = true
      const store: Store = {
        ...base,
        sink: {
          name: 'stalling',
          async write(batch) {
            if (first) {
              first = false
              await stalled.promise
            }
            // A database commits what it was sent even after the caller stopped waiting.
            return base.sink.write(batch, { signal: new AbortController().signal })
          },
        },
      }
      server = await startServer({ store, storeTimeoutMs: 50 })
      const activity = { id: crypto.randomUUID(), activityType: 'x', anonymousId: 'a1' }
      const post = () => fetch(`${server!.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(activity) })
      const timedOut = await post()
      expect(timedOut.status).toBe(503)
      expect(timedOut.headers.get('retry-after')).toBe('5')
      stalled.resolve()
      await expect.poll(() => base.size).toBe(1)
      expect((await post()).status).toBe(200)
      expect(base.size).toBe(1)
      expect(unhandled).toEqual([])
    })

    it('aborts the signal of a write that took too long', async () => {
      let seen: AbortSignal | undefined
      const store: Store = {
        ...memoryStore(),
        sink: {
          name: 'stalling',
          write: (_batch, { signal }) => {
            seen = signal
            return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ type: 'retryable', error: signal.reason })))
          },
        },
      }
      server = await startServer({ store, storeTimeoutMs: 50 })
      const response = await fetch(`${server.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"activityType":"x"}' })
      expect(response.status).toBe(503)
      expect(seen?.aborted).toBe(true)
    })

    it('cuts off an export whose store stalls midway, so the download is visibly incomplete', async () => {
      const base = memoryStore()
      const rows: Activity[] = Array.from({ length: 3000 }, (_, index) => ({
        id: crypto.randomUUID(),
        activityType: 'x',
        timestamp: new Date(Date.UTC(2025, 0, 1) + index).toISOString(),
        description: 'y'.repeat(100),
      }))
      await base.sink.write(rows, { signal: new AbortController().signal })
      const store: Store = {
        ...base,
        async *export(query) {
          let count = 0
          for await (const activity of base.export(query)) {
            if (++count === 2000) await new Promise(() => {})
            yield activity
          }
        },
      }
      const errors: unknown[] = []
      server = await startServer({ store, storeTimeoutMs: 50, onError: (error) => errors.push(error) })
      const response = await fetch(`${server.url}/api/activities/export?format=ndjson`, { headers: ADMIN })
      expect(response.status).toBe(200)
      await expect(response.text()).rejects.toThrow()
      expect(errors.some((error) => HttpError.isInstance(error) && error.status === 503)).toBe(true)
    })

    it('refuses a cursor the store cannot use (a RangeError) with 400 naming the cursor', async () => {
      const base = memoryStore()
      const store: Store = {
        ...base,
        list: async (query) => {
          // As the Postgres store answers a well-formed cursor holding an absurd value.
          if (query?.cursor) throw new RangeError('[usertracking] [postgres] The cursor was not issued by this store.')
          return base.list(query)
        },
      }
      server = await startServer({ store })
      const cursor = Buffer.from(JSON.stringify(['99999999999999999999999', 'x'])).toString('base64url')
      const response = await fetch(`${server.url}/api/activities?cursor=${cursor}`, { headers: ADMIN })
      expect(response.status).toBe(400)
      const { issues } = (await response.json()) as { issues: { path: string[]; message: string }[] }
      expect(issues).toEqual([{ path: ['query', 'cursor'], message: '[usertracking] [postgres] The cursor was not issued by this store.' }])
    })
  })
})
