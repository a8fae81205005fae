import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { activity, NASTY, nastyActivity, signal, withoutReceivedAt } from '../test/activities'
import { serverAvailable, serverUrl, uniqueSchema } from '../test/database'
import { postgresStore, type PostgresClient } from './index'

// node-postgres and postgres.js need a server whatever the store suite runs on: DATABASE_URL, or
// the one on 127.0.0.1 that CI and this machine run (`serverAvailable` says loudly when there is none).
const admin = new pg.Pool({ connectionString: serverUrl, max: 2 })
afterAll(async () => {
  await admin.end()
})

interface Driver {
  name: string
  needsServer: boolean
  open(): Promise<{ client: PostgresClient; inspect(text: string): Promise<Record<string, unknown>[]>; close(): Promise<void> }>
}

const drivers: Driver[] = [
  {
    name: 'node-postgres Pool',
    needsServer: true,
    open: async () => {
      const pool = new pg.Pool({ connectionString: serverUrl, max: 3 })
      return { client: pool, inspect: async (text) => (await pool.query(text)).rows, close: () => pool.end() }
    },
  },
  {
    name: 'node-postgres Client',
    needsServer: true,
    open: async () => {
      const client = new pg.Client({ connectionString: serverUrl })
      await client.connect()
      return { client, inspect: async (text) => (await admin.query(text)).rows, close: () => client.end() }
    },
  },
  {
    name: 'postgres.js',
    needsServer: true,
    open: async () => {
      const sql = postgres(serverUrl, { max: 3, onnotice: () => {} })
      return { client: sql, inspect: async (text) => [...(await sql.unsafe(text))], close: () => sql.end({ timeout: 1 }) }
    },
  },
  {
    name: 'PGlite',
    needsServer: false,
    open: async () => {
      const db = await PGlite.create()
      return {
        client: db,
        inspect: async (text) => (await db.query<Record<string, unknown>>(text)).rows,
        close: () => db.close(),
      }
    },
  },
]

for (const driver of drivers) {
  describe.skipIf(driver.needsServer && !serverAvailable)(`postgresStore over ${driver.name}`, () => {
    let opened: Awaited<ReturnType<Driver['open']>>
    const schema = uniqueSchema('adapter')
    beforeAll(async () => {
      opened = await driver.open()
    })
    afterAll(async () => {
      await opened.inspect(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await opened.close()
    })

    it('writes and reads back every field faithfully, JSON stored as JSON objects', async () => {
      const store = postgresStore({ client: opened.client, schema })
      await store.migrate()
      const rows = NASTY.map((text, index) => nastyActivity(text, index))
      const bad = activity({ timestamp: '-010000-01-01T00:00:00.000Z' })
      const result = await store.sink.write([...rows.slice(0, 2), bad, ...rows.slice(2)], { signal })
      expect(result).toEqual({ type: 'success', rejected: [{ id: bad.id, error: expect.stringMatching(/22008|out of range/) }] })
      expect(await store.sink.write(rows, { signal })).toEqual({ type: 'success' })

      const { items, total } = await store.list({ sort: 'timestamp', order: 'asc', includeTotal: true })
      expect(total).toBe(rows.length)
      expect(items.map(withoutReceivedAt)).toEqual(rows)
      const types = await opened.inspect(
        `SELECT DISTINCT jsonb_typeof(metadata) AS metadata, jsonb_typeof(context) AS context, jsonb_typeof(token_usage) AS usage,
           total_tokens AS total FROM "${schema}".user_activities`,
      )
      expect(types).toEqual([{ metadata: 'object', context: 'object', usage: 'object', total: 1420 }])
      const stats = await store.stats({ userId: rows[0]!.userId })
      expect(stats).toMatchObject({ total: 1, tokens: { input: 1000, output: 420, total: 1420 }, duration: { avgMs: 3200.5 } })
    })

    it('answers a column of another type as a permanent failure naming it', async () => {
      const table = 'retyped'
      const store = postgresStore({ client: opened.client, schema, table })
      await store.migrate()
      await opened.inspect(`ALTER TABLE "${schema}".${table} ALTER COLUMN user_id TYPE integer USING NULL`)
      const result = await store.sink.write([activity({ userId: 'someone' }), activity({ userId: 'else' })], { signal })
      expect(result.type).toBe('failure')
      expect(result.type === 'failure' && (result.error as Error).message).toMatch(/user_id.*describe the table with options.mapping/)
    })
  })
}

it.skipIf(!serverAvailable)('migrates over postgres.js without printing notices (it logs them by default)', async () => {
  const sql = postgres(serverUrl, { max: 2 })
  const schema = uniqueSchema('notices')
  const log = vi.spyOn(console, 'log')
  try {
    const store = postgresStore({ client: sql, schema })
    await store.migrate()
    await store.migrate()
    await postgresStore({ client: sql, schema }).migrate()
    expect(log).not.toHaveBeenCalled()
  } finally {
    log.mockRestore()
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await sql.end({ timeout: 1 })
  }
})

/**
 * The server going away mid-batch: the write waits on a lock held elsewhere, its backend is
 * terminated (as a failover or an admin would), and the sink must answer `retryable` and deliver
 * the same batch on the next try, once. Over the clients that reconnect by themselves: a single
 * node-postgres Client stays dead once its connection is gone, and PGlite has no connection.
 */
for (const driver of drivers.filter((each) => each.name === 'node-postgres Pool' || each.name === 'postgres.js')) {
  it.skipIf(!serverAvailable)(`retries and delivers a batch whose connection was terminated mid-write (${driver.name})`, async () => {
    const opened = await driver.open()
    const schema = uniqueSchema('terminate')
    const blocker = await admin.connect()
    try {
      const store = postgresStore({ client: opened.client, schema })
      await store.migrate()
      const batch = Array.from({ length: 500 }, (_, index) => activity({ userId: `u${index % 7}` }))
      await blocker.query('BEGIN')
      await blocker.query(`LOCK TABLE "${schema}".user_activities IN ACCESS EXCLUSIVE MODE`)
      const pending = store.sink.write(batch, { signal })
      let pid: number | undefined
      await expect
        .poll(async () => {
          const { rows } = await admin.query(
            `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
            [`%"${schema}".%`],
          )
          pid = rows[0]?.pid
          return pid
        }, { timeout: 10_000 })
        .toBeTypeOf('number')
      await admin.query('SELECT pg_terminate_backend($1)', [pid])
      const first = await pending
      await blocker.query('ROLLBACK')
      expect(first.type).toBe('retryable')
      expect(await store.sink.write(batch, { signal })).toEqual({ type: 'success' })
      const { rows } = await admin.query(`SELECT count(*)::int AS count, count(DISTINCT id)::int AS ids FROM "${schema}".user_activities`)
      expect(rows[0]).toEqual({ count: 500, ids: 500 })
    } finally {
      blocker.release()
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await opened.close().catch(() => undefined)
    }
  })
}
