/**
 * Retention on the SDK's own table, on the PostgreSQL server when DATABASE_URL is set and on PGlite
 * otherwise; what needs two sessions (the advisory lock) runs on the server only.
 */
import { createHash } from 'node:crypto'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { activity, signal } from '../test/activities'
import { openTestDatabase, serverAvailable, serverUrl, uniqueSchema, type TestDatabase } from '../test/database'
import type { PostgresConnection } from './client-adapter'
import { toAdapter } from './detect-client'
import { deleteWhere } from './identity'
import { postgresStore, PostgresStoreError, type PostgresStore } from './index'
import { EXPIRED_ROW } from './retention'

const DAY = 86_400_000
let db: TestDatabase
let schema: string
const stores: PostgresStore[] = []

beforeAll(async () => {
  db = await openTestDatabase()
})
afterAll(async () => {
  await db.close()
})
beforeEach(() => {
  schema = uniqueSchema('retention')
})
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close()
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

function open(options: Partial<Parameters<typeof postgresStore>[0]> = {}): PostgresStore {
  const store = postgresStore({ client: db.client, schema, retention: { maxAgeDays: 30, runInBackground: false }, ...options })
  stores.push(store)
  return store
}

const table = () => `"${schema}".user_activities`
const count = async (where = 'true') => Number((await db.query(`SELECT count(*)::int AS n FROM ${table()} WHERE ${where}`))[0]!.n)

/** `rows` activities of user `userId` received `daysAgo` days ago, written in SQL (not through the sink). */
async function insertRows(rows: number, daysAgo: number, userId = 'old'): Promise<void> {
  await db.query(
    `INSERT INTO ${table()} (id, user_id, activity_type, "timestamp", received_at)
SELECT gen_random_uuid(), $2, 'page_view', now() - $3::float8 * interval '1 day', now() - $3::float8 * interval '1 day' FROM generate_series(1, $1::int)`,
    [rows, userId, daysAgo],
  )
}

describe(`retention on ${process.env.DATABASE_URL ? 'the PostgreSQL server' : 'PGlite'}`, () => {
  it('deletes in statements of at most 5,000 rows, and stops between two when asked', async () => {
    const store = open()
    await store.migrate()
    await insertRows(12_000, 40)
    await insertRows(10, 1, 'young')
    const adapter = toAdapter(db.client, { queryTimeoutMs: 30_000, warn: () => {} })
    const statements: number[] = []
    const counting: PostgresConnection = {
      query: async (text, params) => {
        const rows = await adapter.query(text, params)
        statements.push(Number(rows[0]?.deleted))
        return rows
      },
    }
    const controller = new AbortController()
    const target = { table: table(), rowKey: 'id' }
    const first = await deleteWhere({ query: (text, params) => counting.query(text, params).finally(() => controller.abort()) }, target, EXPIRED_ROW, [30 * DAY], controller.signal)
    expect(first).toBe(5000)
    expect(await count()).toBe(7010)
    statements.length = 0
    expect(await deleteWhere(counting, target, EXPIRED_ROW, [30 * DAY])).toBe(7000)
    expect(statements).toEqual([5000, 2000])
    expect(await count()).toBe(10)
  })

  it('forgets identity links older than maxAgeDays, and tombstones older than tombstoneMs', async () => {
    const store = open({ tombstoneMs: 10 * DAY })
    await store.migrate()
    await store.identify({ userId: 'u-old', anonymousId: 'a-old' })
    await store.identify({ userId: 'u-new', anonymousId: 'a-new' })
    await store.deleteActivities({ userId: 'gone-long-ago' })
    await store.deleteActivities({ userId: 'gone-yesterday' })
    await db.query(`UPDATE "${schema}".user_activities_identities SET linked_at = now() - interval '31 days' WHERE anonymous_id = 'a-old'`)
    // Tombstones keep a hash of the id, never the id.
    const hashOf = (id: string) => `sha256:${createHash('sha256').update(id).digest('hex')}`
    await db.query(`UPDATE "${schema}".user_activities_deletions SET deleted_at = now() - interval '11 days' WHERE subject = $1`, [hashOf('gone-long-ago')])
    await db.query(`UPDATE "${schema}".user_activities_deletions SET deleted_at = now() - interval '1 day' WHERE subject = $1`, [hashOf('gone-yesterday')])
    expect(await store.expireActivities()).toEqual({ deleted: 0 })
    expect(await db.query(`SELECT anonymous_id FROM "${schema}".user_activities_identities`)).toEqual([{ anonymous_id: 'a-new' }])
    expect(await db.query(`SELECT subject FROM "${schema}".user_activities_deletions`)).toEqual([{ subject: hashOf('gone-yesterday') }])
    // The visitor whose link expired is anonymous again from now on.
    const later = activity({ userId: undefined, anonymousId: 'a-old' })
    await store.sink.write([later], { signal })
    expect((await store.list({ anonymousId: 'a-old' })).items.map((item) => item.userId)).toEqual([undefined])
  })

  it('reports a failed run to onWarning and keeps running: here until migrate() creates the table', async () => {
    const warnings: PostgresStoreError[] = []
    const store = open({ retention: { maxAgeDays: 30, intervalMs: 20 }, onWarning: (warning) => warnings.push(warning as PostgresStoreError) })
    await expect.poll(() => warnings.length, { timeout: 15_000 }).toBeGreaterThan(0)
    expect(warnings[0]).toBeInstanceOf(PostgresStoreError)
    expect(warnings[0]!.message).toContain('The retention job over')
    expect(warnings[0]!.code).toBe('42P01')
    await store.migrate()
    await insertRows(3, 40)
    await insertRows(2, 1, 'young')
    await expect.poll(() => count(), { timeout: 15_000 }).toBe(2)
  })

  it('refuses options it cannot use, naming the field', () => {
    expect(() => postgresStore({ client: db.client, retention: { maxAgeDays: -1 } })).toThrow(PostgresStoreError)
    expect(() => postgresStore({ client: db.client, retention: { maxAgeDays: -1 } })).toThrow('[usertracking] [postgres] options.retention.maxAgeDays')
    expect(() => postgresStore({ client: db.client, partitioning: 'weekly' as never })).toThrow('options.partitioning')
    expect(() => postgresStore({ client: db.client, partitioning: 'monthly', mapping: { fields: {} } })).toThrow('options.mapping')
  })
})

describe.skipIf(!serverAvailable)('retention across processes on the PostgreSQL server', () => {
  let pool: pg.Pool
  let other: pg.Pool
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: serverUrl, max: 4 })
    other = new pg.Pool({ connectionString: serverUrl, max: 4 })
  })
  afterAll(async () => {
    await Promise.all([pool.end(), other.end()])
  })
  // The file's own cleanup drops the schema from the test database, which may be PGlite.
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close()
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  })
  const rows = async () => Number((await pool.query(`SELECT count(*)::int AS n FROM "${schema}".user_activities`)).rows[0].n)
  const seed = async (count: number) =>
    pool.query(
      `INSERT INTO "${schema}".user_activities (id, activity_type, "timestamp", received_at)
SELECT gen_random_uuid(), 'page_view', now() - interval '40 days', now() - interval '40 days' FROM generate_series(1, $1::int)`,
      [count],
    )

  it('runs on one process at a time: while another session holds the lock, a call skips and deletes nothing', async () => {
    const store = postgresStore({ client: other, schema, retention: { maxAgeDays: 30, runInBackground: false } })
    stores.push(store)
    await store.migrate()
    await seed(100)
    const holder = await pool.connect()
    try {
      const key = `usertracking:retention:${schema}.user_activities`
      await holder.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [key])
      expect(await store.expireActivities()).toEqual({ deleted: 0, skipped: true })
      expect(await rows()).toBe(100)
      await holder.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [key])
      expect(await store.expireActivities()).toEqual({ deleted: 100 })
    } finally {
      holder.release()
    }
  })

  it('two processes expiring at once together delete each expired row once', async () => {
    const first = postgresStore({ client: pool, schema, retention: { maxAgeDays: 30, runInBackground: false } })
    const second = postgresStore({ client: other, schema, retention: { maxAgeDays: 30, runInBackground: false } })
    stores.push(first, second)
    await first.migrate()
    await seed(12_000)
    const results = await Promise.all([first.expireActivities(), second.expireActivities(), first.expireActivities(), second.expireActivities()])
    expect(results.reduce((sum, result) => sum + result.deleted, 0)).toBe(12_000)
    expect(await rows()).toBe(0)
  })
})
