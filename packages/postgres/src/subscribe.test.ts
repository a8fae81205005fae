/**
 * Live updates over LISTEN / NOTIFY: a store hears what another store (another server instance, on
 * its own connections) writes, without polling, each activity once, only what its filter selects.
 */
import { PGlite } from '@electric-sql/pglite'
import type { Activity } from '@usertracking/core'
import pg from 'pg'
import postgres from 'postgres'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { activity, signal } from '../test/activities'
import { serverAvailable, serverUrl, uniqueSchema } from '../test/database'
import { postgresStore, type PostgresClient, type PostgresStore } from './index'

const admin = new pg.Pool({ connectionString: serverUrl, max: 2 })
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})
afterAll(async () => {
  await admin.end()
})

/** Resolves once a backend LISTENs on the table's channel (as pg_stat_activity shows it). */
async function listenerUp(schema: string, count = 1): Promise<void> {
  await expect
    .poll(async () => {
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle' AND lower(query) = lower($1)`, [`LISTEN "usertracking:${schema}.user_activities"`])
      return rows[0].n
    })
    .toBe(count)
}

function collect(store: PostgresStore, filter = {}): { heard: Activity[]; stop: () => void } {
  const heard: Activity[] = []
  const stop = store.subscribe!(filter, (activities) => heard.push(...activities))
  cleanups.push(async () => stop())
  return { heard, stop }
}

const openers: { name: string; open: () => { client: PostgresClient; close: () => Promise<unknown> } }[] = [
  {
    name: 'node-postgres',
    open: () => {
      const pool = new pg.Pool({ connectionString: serverUrl, max: 3 })
      return { client: pool, close: () => pool.end() }
    },
  },
  {
    name: 'postgres.js',
    open: () => {
      const sql = postgres(serverUrl, { max: 3, onnotice: () => {} })
      return { client: sql, close: () => sql.end({ timeout: 1 }) }
    },
  },
]

describe.skipIf(!serverAvailable)('subscribe across store instances on the PostgreSQL server', () => {
  for (const writerDriver of openers) {
    for (const listenerDriver of openers) {
      it(`pushes what a ${writerDriver.name} store writes to a ${listenerDriver.name} store, once each, filtered, in order`, async () => {
        const schema = uniqueSchema('subscribe')
        cleanups.push(() => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
        const writerClient = writerDriver.open()
        const listenerClient = listenerDriver.open()
        cleanups.push(writerClient.close, listenerClient.close)
        const writer = postgresStore({ client: writerClient.client, schema })
        const listener = postgresStore({ client: listenerClient.client, schema })
        cleanups.push(() => listener.close())
        await writer.migrate()
        const mine = collect(listener, { userId: 'watched' })
        const everything = collect(listener)
        await listenerUp(schema)
        // More ids than one notification carries, in two batches, mixed with other users.
        const batch = Array.from({ length: 450 }, (_, index) => activity({ userId: index % 3 === 0 ? 'watched' : `other-${index}` }))
        expect(await writer.sink.write(batch.slice(0, 300), { signal })).toEqual({ type: 'success' })
        expect(await writer.sink.write(batch.slice(300), { signal })).toEqual({ type: 'success' })
        const watched = batch.filter((row) => row.userId === 'watched').map((row) => row.id)
        await expect.poll(() => mine.heard.length).toBe(watched.length)
        expect(mine.heard.map((row) => row.id)).toEqual(watched)
        expect(mine.heard[0]).toMatchObject({ ...batch[0], receivedAt: expect.any(String) })
        // A retried batch stores nothing new, so announces nothing; the next new write is heard alone.
        expect(await writer.sink.write(batch.slice(0, 300), { signal })).toEqual({ type: 'success' })
        const later = activity({ userId: 'watched' })
        await writer.sink.write([later], { signal })
        await expect.poll(() => mine.heard.at(-1)?.id).toBe(later.id)
        expect(mine.heard).toHaveLength(watched.length + 1)
        expect(everything.heard.map((row) => row.id)).toEqual([...batch.map((row) => row.id), later.id])
      })
    }
  }

  it("answers a write once it committed, without waiting for its notification, which follows", async () => {
    const schema = uniqueSchema('unwaited')
    cleanups.push(() => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
    // Every pg_notify this pool's connections send is held until the test lets it go.
    const pool = new pg.Pool({ connectionString: serverUrl, max: 3 })
    cleanups.push(() => pool.end())
    let letGo!: () => void
    const held = new Promise<void>((resolve) => (letGo = resolve))
    const notifications: string[] = []
    const connect = pool.connect.bind(pool)
    pool.connect = (async () => {
      const client = await connect()
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>
      ;(client as { query: unknown }).query = (text: unknown, ...rest: unknown[]) => {
        if (typeof text !== 'string' || !text.includes('pg_notify')) return query(text, ...rest)
        notifications.push(text)
        return held.then(() => query(text, ...rest))
      }
      return client
    }) as typeof pool.connect
    const writer = postgresStore({ client: pool, schema })
    const listener = postgresStore({ client: admin, schema })
    cleanups.push(() => listener.close())
    await writer.migrate()
    const { heard } = collect(listener)
    await listenerUp(schema)
    const stored = activity()
    const answered = await Promise.race([
      writer.sink.write([stored], { signal }),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2000)),
    ])
    expect(answered).toEqual({ type: 'success' })
    expect(await admin.query(`SELECT id::text FROM "${schema}".user_activities`)).toMatchObject({ rows: [{ id: stored.id }] })
    await expect.poll(() => notifications).toHaveLength(1)
    expect(heard).toEqual([])
    letGo()
    await expect.poll(() => heard.map((row) => row.id)).toEqual([stored.id])
    await writer.close()
  })

  it('hears nothing from a store with notify: false, and stops listening on close()', async () => {
    const schema = uniqueSchema('quiet')
    cleanups.push(() => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
    const quiet = postgresStore({ client: admin, schema, notify: false })
    const loud = postgresStore({ client: admin, schema })
    const listener = postgresStore({ client: admin, schema })
    await quiet.migrate()
    const { heard } = collect(listener)
    await listenerUp(schema)
    const unheard = activity()
    const heardOne = activity()
    await quiet.sink.write([unheard], { signal })
    await loud.sink.write([heardOne], { signal })
    await expect.poll(() => heard.map((row) => row.id)).toEqual([heardOne.id])
    await listener.close()
    await listenerUp(schema, 0)
  })
})

describe('subscribe on PGlite', () => {
  it('pushes what another store over the same database writes, and each activity once', async () => {
    const db = await PGlite.create()
    cleanups.push(() => db.close())
    const writer = postgresStore({ client: db })
    const listener = postgresStore({ client: db })
    cleanups.push(() => listener.close())
    await writer.migrate()
    const { heard } = collect(listener, { activityType: 'watched' })
    const rows = Array.from({ length: 250 }, (_, index) => activity({ activityType: index % 2 ? 'watched' : 'other' }))
    // PGlite runs in this process, so its LISTEN is in effect once the subscriber's store has written once.
    await listener.sink.write([], { signal })
    await writer.sink.write(rows, { signal })
    await writer.sink.write(rows, { signal })
    const last = activity({ activityType: 'watched' })
    await writer.sink.write([last], { signal })
    const expected = [...rows.filter((row) => row.activityType === 'watched'), last].map((row) => row.id)
    await expect.poll(() => heard.map((row) => row.id)).toEqual(expected)
  })
})
