/**
 * A database that drops or stalls, on the real server through a real TCP proxy: nothing ends the
 * process, every write answers (retryable while the database is away), and the store recovers by
 * itself. The proxy resets connections (RST) mid-COPY, or stops moving bytes.
 */
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import postgres from 'postgres'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Activity } from '@usertracking/core'
import { activity, signal } from '../test/activities'
import { serverAvailable, serverUrl, uniqueSchema } from '../test/database'
import { startTcpProxy, type TcpProxy } from '../test/tcp-proxy'
import { postgresStore, QueryTimeoutError, type PostgresStore } from './index'

const target = { host: new URL(serverUrl).hostname || '127.0.0.1', port: Number(new URL(serverUrl).port || 5432) }
const admin = new pg.Pool({ connectionString: serverUrl, max: 2 })
const cleanups: (() => Promise<unknown>)[] = []

// What would have ended a real process: an 'error' event nobody listened to surfaces as an uncaught
// exception (vitest also reports it, but then as an error of the run, not of the test that caused it).
const uncaught: unknown[] = []
const recordUncaught = (error: unknown) => uncaught.push(error)
beforeEach(() => {
  uncaught.length = 0
  process.prependListener('uncaughtException', recordUncaught)
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
  process.removeListener('uncaughtException', recordUncaught)
  expect(uncaught, 'errors nobody handled (each would have ended the process)').toEqual([])
})
afterAll(async () => {
  await admin.end()
})

async function stored(schema: string): Promise<{ count: number; ids: number }> {
  const { rows } = await admin.query(`SELECT count(*)::int AS count, count(DISTINCT id)::int AS ids FROM "${schema}".user_activities`)
  return rows[0]
}

async function proxied(): Promise<TcpProxy> {
  const proxy = await startTcpProxy(target)
  cleanups.push(() => proxy.close())
  return proxy
}

async function freshStore(client: pg.Pool | postgres.Sql, warnings: Error[] = [], extra: { queryTimeoutMs?: number } = {}): Promise<{ store: PostgresStore; schema: string }> {
  const schema = uniqueSchema('loss')
  const store = postgresStore({ client, schema, onWarning: (warning) => warnings.push(warning), ...extra })
  cleanups.push(() => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
  cleanups.push(() => store.close())
  await store.migrate()
  return { store, schema }
}

/**
 * The statement bound of the stall tests: each stalled write waits this long, so it is short, but
 * long enough that the writes around the stall rarely outlast it on a loaded machine.
 */
const STALL_TIMEOUT_MS = 1500

/**
 * Writes `batch` until it is stored, as a tracker retries a retryable answer: on a loaded machine a
 * write may outlast {@link STALL_TIMEOUT_MS} without anything being wrong.
 */
async function deliver(store: PostgresStore, batch: Activity[]): Promise<void> {
  await expect.poll(async () => (await store.sink.write(batch, { signal })).type, { timeout: 20_000 }).toBe('success')
}

function batchOf(count: number): Activity[] {
  return Array.from({ length: count }, (_, index) => activity({ userId: `u${index % 5}`, description: 'x'.repeat(200) }))
}

describe.skipIf(!serverAvailable)('a connection lost under node-postgres', () => {
  for (const appListener of [false, true]) {
    it(`answers a reset mid-COPY as retryable and delivers the batch once on the next try (pool ${appListener ? 'with' : 'without'} the app's own 'error' listener)`, async () => {
      const proxy = await proxied()
      const pool = new pg.Pool({ connectionString: proxy.urlFor(serverUrl), max: 2 })
      cleanups.push(() => pool.end())
      const poolErrors: Error[] = []
      if (appListener) pool.on('error', (error) => poolErrors.push(error))
      const { store, schema } = await freshStore(pool)
      const batch = batchOf(3000)
      const reset = proxy.resetOnMessage('d')
      const first = await store.sink.write(batch, { signal })
      await reset
      expect(first.type).toBe('retryable')
      expect(await store.sink.write(batch, { signal })).toEqual({ type: 'success' })
      expect(await stored(schema)).toEqual({ count: 3000, ids: 3000 })
      // The reset client was destroyed, not handed out again.
      expect(pool.totalCount).toBeLessThanOrEqual(2)
    })
  }

  it('answers writes as retryable while the database is stalled, destroys the stuck clients, and writes again once it answers', async () => {
    const proxy = await proxied()
    const pool = new pg.Pool({ connectionString: proxy.urlFor(serverUrl), max: 2 })
    cleanups.push(() => pool.end())
    const { store, schema } = await freshStore(pool, [], { queryTimeoutMs: STALL_TIMEOUT_MS })
    await deliver(store, batchOf(10))
    proxy.stall()
    // More writes than the pool has connections: each stuck one is destroyed, so none waits for a free slot forever.
    const during = [batchOf(10), batchOf(10), batchOf(10), batchOf(10)]
    for (const batch of during) {
      const result = await store.sink.write(batch, { signal })
      expect(result.type).toBe('retryable')
      expect(result.type === 'retryable' && (result.error as Error).message).toMatch(`did not finish within ${STALL_TIMEOUT_MS} ms`)
    }
    await expect(store.list()).rejects.toBeInstanceOf(QueryTimeoutError)
    proxy.resume()
    for (const batch of during) await deliver(store, batch)
    expect(await stored(schema)).toEqual({ count: 50, ids: 50 })
    await expect.poll(async () => (await store.list({ limit: 1000 })).items.length, { timeout: 20_000 }).toBe(50)
  })

  it('survives pg_terminate_backend on busy and idle connections of a pool without an error listener', async () => {
    const pool = new pg.Pool({ connectionString: serverUrl, max: 3, application_name: 'usertracking_terminate' })
    cleanups.push(() => pool.end())
    const warnings: Error[] = []
    const { store, schema } = await freshStore(pool, warnings)
    // Three idle connections in the pool, then a write that waits on a lock (a busy backend).
    await Promise.all([store.list(), store.list(), store.list()])
    const blocker = await admin.connect()
    cleanups.push(async () => blocker.release())
    await blocker.query('BEGIN')
    await blocker.query(`LOCK TABLE "${schema}".user_activities IN ACCESS EXCLUSIVE MODE`)
    const batch = batchOf(200)
    const pending = store.sink.write(batch, { signal })
    await expect
      .poll(async () => (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'usertracking_terminate' AND wait_event_type = 'Lock'`)).rows[0].n)
      .toBe(1)
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'usertracking_terminate'`)
    expect((await pending).type).toBe('retryable')
    await blocker.query('ROLLBACK')
    // The idle ones died too: the pool emitted their errors, which this store's listener took.
    await expect.poll(() => warnings.some((warning) => /idle node-postgres client lost its connection/.test(warning.message))).toBe(true)
    // An idle client whose end the pool has not heard of yet may take the next try (retryable again,
    // and destroyed); the pool runs out of dead clients within its size.
    const tries: string[] = []
    for (let attempt = 0; attempt < 4 && tries.at(-1) !== 'success'; attempt++) tries.push((await store.sink.write(batch, { signal })).type)
    expect(tries.at(-1)).toBe('success')
    expect(await stored(schema)).toEqual({ count: 200, ids: 200 })
  })

  it('keeps a single Client from ending the process when its connection is reset, answering retryable', async () => {
    const proxy = await proxied()
    const client = new pg.Client({ connectionString: proxy.urlFor(serverUrl) })
    await client.connect()
    cleanups.push(() => client.end())
    const warnings: Error[] = []
    const { store } = await freshStore(client as never, warnings)
    const reset = proxy.resetOnMessage('d')
    const result = await store.sink.write(batchOf(500), { signal })
    await reset
    expect(result.type).toBe('retryable')
    expect(warnings.map((warning) => warning.message).join('\n')).toMatch(/give the store a Pool/)
  })
})

describe.skipIf(!serverAvailable)('a statement past queryTimeoutMs', () => {
  const clients = {
    'a node-postgres Pool': async (name: string) => {
      const pool = new pg.Pool({ connectionString: serverUrl, max: 2, application_name: name })
      cleanups.push(() => pool.end())
      return pool
    },
    'a node-postgres Client': async (name: string) => {
      const client = new pg.Client({ connectionString: serverUrl, application_name: name })
      await client.connect()
      cleanups.push(() => client.end())
      return client as never
    },
    'postgres.js': async (name: string) => {
      const sql = postgres(serverUrl, { max: 2, onnotice: () => {}, connection: { application_name: name } })
      cleanups.push(() => sql.end({ timeout: 1 }))
      return sql
    },
  }
  for (const [kind, open] of Object.entries(clients)) {
    it(`is cancelled on the server, not only abandoned (${kind})`, async () => {
      const name = uniqueSchema('cancel')
      const { store, schema } = await freshStore(await open(name), [], { queryTimeoutMs: STALL_TIMEOUT_MS })
      await deliver(store, batchOf(10))
      // Another session holds the table, so the store's statements wait on its lock.
      const blocker = await admin.connect()
      cleanups.push(async () => blocker.release())
      await blocker.query('BEGIN')
      await blocker.query(`LOCK TABLE "${schema}".user_activities IN ACCESS EXCLUSIVE MODE`)
      const waiting = async () =>
        (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [name])).rows[0].n
      await expect(store.list()).rejects.toBeInstanceOf(QueryTimeoutError)
      const write = await store.sink.write(batchOf(200), { signal })
      expect(write.type === 'retryable' && (write.error as Error).message).toMatch(`did not finish within ${STALL_TIMEOUT_MS} ms`)
      // While the lock is still held, nothing of the store's is left waiting on it.
      await expect.poll(waiting, { timeout: 10_000 }).toBe(0)
      await blocker.query('ROLLBACK')
      await deliver(store, batchOf(10))
      expect(await stored(schema)).toMatchObject({ count: 20 })
    })
  }
})

describe.skipIf(!serverAvailable)('a LISTEN connection lost', () => {
  for (const driver of ['node-postgres', 'postgres.js'] as const) {
    it(`listens again after its connection is reset, and says so (${driver})`, async () => {
      const proxy = await proxied()
      const url = proxy.urlFor(serverUrl)
      const client = driver === 'node-postgres' ? new pg.Pool({ connectionString: url, max: 2 }) : postgres(url, { max: 2, onnotice: () => {} })
      cleanups.push(() => (client instanceof pg.Pool ? client.end() : client.end({ timeout: 1 })))
      const warnings: Error[] = []
      const { store: listening, schema } = await freshStore(client, warnings)
      // Writes come from another store on a direct connection: another server instance.
      const writer = postgresStore({ client: admin, schema })
      const heard: string[] = []
      const stop = listening.subscribe!({}, (activities) => heard.push(...activities.map((row) => row.id)))
      cleanups.push(async () => stop())
      // Probes until the LISTEN is in effect: a new id each time, since a stored id is not announced again.
      const probes: string[] = []
      await expect
        .poll(async () => {
          const probe = activity()
          probes.push(probe.id)
          await writer.sink.write([probe], { signal })
          return probes.some((id) => heard.includes(id))
        })
        .toBe(true)
      proxy.resetAll()
      await expect.poll(() => warnings.map((warning) => warning.message).join('\n'), { timeout: 15_000 }).toMatch(/is back after a lost connection/)
      // node-postgres tells when the connection is lost; postgres.js reconnects without a word until it is back.
      if (driver === 'node-postgres') expect(warnings.map((warning) => warning.message).join('\n')).toMatch(/connection was lost; reconnecting/)
      const second = activity()
      await writer.sink.write([second], { signal })
      await expect.poll(() => heard.includes(second.id)).toBe(true)
    })
  }
})

describe.skipIf(!serverAvailable)('a connection lost under postgres.js', () => {
  it('answers a reset mid-INSERT and a stall as retryable, and writes again afterwards', async () => {
    const proxy = await proxied()
    const sql = postgres(proxy.urlFor(serverUrl), { max: 2, onnotice: () => {} })
    cleanups.push(() => sql.end({ timeout: 1 }))
    const { store, schema } = await freshStore(sql, [], { queryTimeoutMs: STALL_TIMEOUT_MS })
    // Activities without a user or visitor go straight to the INSERT (nothing to screen first).
    const anonymous = (count: number) => Array.from({ length: count }, () => activity({ userId: undefined }))
    const batch = anonymous(1000)
    const reset = proxy.resetOnMessage('B')
    const first = await store.sink.write(batch, { signal })
    await reset
    expect(first.type).toBe('retryable')
    proxy.stall()
    const stalled = anonymous(10)
    const during = await store.sink.write(stalled, { signal })
    expect(during.type === 'retryable' && (during.error as Error).message).toMatch(`did not finish within ${STALL_TIMEOUT_MS} ms`)
    proxy.resume()
    await deliver(store, batch)
    await deliver(store, stalled)
    expect(await stored(schema)).toEqual({ count: 1010, ids: 1010 })
  })
})

describe('a PGlite closed under the store', () => {
  it('answers writes as retryable and reads with an error, never hanging', async () => {
    const db = await PGlite.create()
    const store = postgresStore({ client: db, queryTimeoutMs: 2000 })
    await store.migrate()
    await deliver(store, [activity()])
    await db.close()
    const result = await store.sink.write([activity()], { signal })
    expect(result.type).toBe('retryable')
    await expect(store.list()).rejects.toThrow()
  })
})
