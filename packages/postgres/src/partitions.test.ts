/**
 * `partitioning: 'monthly'`: the table made (or converted) into one partition per month of
 * `timestamp`, idempotency by id on it, and retention dropping whole months; on the PostgreSQL
 * server when DATABASE_URL is set and on PGlite otherwise. The conversion of 1,000,000 rows runs on
 * the server.
 */
import pg from 'pg'
import postgres from 'postgres'
import type { Activity } from '@usertracking/core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { activity, signal } from '../test/activities'
import { openTestDatabase, serverAvailable, serverUrl, uniqueSchema, type TestDatabase } from '../test/database'
import { postgresStore, type PostgresStore } from './index'
import { MONTHS_AHEAD } from './partitions'
import { COPY_MIN_ROWS } from './postgres-sink'

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
  schema = uniqueSchema('partitions')
})
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close()
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

function open(options: Partial<Parameters<typeof postgresStore>[0]> = {}, client = db.client): PostgresStore {
  const store = postgresStore({ client, schema, partitioning: 'monthly', retention: { maxAgeDays: 45, runInBackground: false }, ...options })
  stores.push(store)
  return store
}

/** `YYYY_MM` of the month `offset` months from the one holding `ms`, UTC. */
function suffix(ms: number, offset = 0): string {
  const date = new Date(ms)
  const month = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + offset, 1))
  return `${month.getUTCFullYear()}_${String(month.getUTCMonth() + 1).padStart(2, '0')}`
}

function monthStart(ms: number): number {
  const date = new Date(ms)
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1)
}

async function partitions(query: TestDatabase['query'] = db.query): Promise<string[]> {
  const rows = await query(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1) ORDER BY 1`,
    [`"${schema}".user_activities`],
  )
  return rows.map((row) => String(row.name))
}

/** Where each row lives: its partition, by id. */
async function placement(): Promise<Map<string, string>> {
  const rows = await db.query(`SELECT id::text AS id, tableoid::regclass::text AS partition FROM "${schema}".user_activities`)
  return new Map(rows.map((row) => [String(row.id), String(row.partition).replace(/^.*\./, '').replaceAll('"', '')]))
}

async function counts(): Promise<{ rows: number; ids: number }> {
  const [row] = await db.query(`SELECT count(*)::int AS rows, count(DISTINCT id)::int AS ids FROM "${schema}".user_activities`)
  return row as { rows: number; ids: number }
}

describe(`monthly partitions on ${process.env.DATABASE_URL ? 'the PostgreSQL server' : 'PGlite'}`, () => {
  it('migrate() makes a partitioned table with this month, the next ones and a default partition; again changes nothing', async () => {
    const store = open()
    await store.migrate()
    await store.migrate()
    const now = Date.now()
    const expected = Array.from({ length: MONTHS_AHEAD + 1 }, (_, offset) => `user_activities_p${suffix(now, offset)}`)
    expect(await partitions()).toEqual([...expected, 'user_activities_pdefault'].sort())
    const [key] = await db.query(
      `SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p'`,
      [`"${schema}".user_activities`],
    )
    expect(key).toEqual({ definition: 'PRIMARY KEY (id, "timestamp")' })
  })

  it('stores a retried batch once, in month partitions and in the default one, and two writers of one batch at once store it once', async () => {
    const store = open()
    await store.migrate()
    // Large enough for the COPY path, whose retry meets stored ids and takes the staged INSERT.
    const batch = [
      ...Array.from({ length: COPY_MIN_ROWS + 20 }, () => activity()),
      ...Array.from({ length: 5 }, (_, index) => activity({ timestamp: new Date(Date.UTC(2020, 0, 1, 0, 0, index)).toISOString() })),
      ...Array.from({ length: 5 }, (_, index) => activity({ timestamp: new Date(Date.UTC(2099, 0, 1, 0, 0, index)).toISOString() })),
    ]
    expect(await store.sink.write(batch, { signal })).toEqual({ type: 'success' })
    // A retry: the whole batch, then part of it regrouped with new rows (the staged INSERT path).
    expect(await store.sink.write(batch, { signal })).toEqual({ type: 'success' })
    const more = activity()
    expect(await store.sink.write([more, ...batch.slice(10), batch[0]!], { signal })).toEqual({ type: 'success' })
    expect(await counts()).toEqual({ rows: COPY_MIN_ROWS + 31, ids: COPY_MIN_ROWS + 31 })
    const places = await placement()
    expect(places.get(batch[0]!.id)).toBe(`user_activities_p${suffix(Date.now())}`)
    expect(places.get(batch[COPY_MIN_ROWS + 20]!.id)).toBe('user_activities_pdefault')
    expect(places.get(batch[COPY_MIN_ROWS + 29]!.id)).toBe('user_activities_pdefault')

    // Two processes receive the same batch at once (a beacon and its retry, say).
    const twin = open({}, db.anotherClient())
    const concurrent = Array.from({ length: 200 }, (_, index) => activity({ timestamp: new Date(Date.now() - (index % 3) * 40 * DAY).toISOString() }))
    const results = await Promise.all([store.sink.write(concurrent, { signal }), twin.sink.write(concurrent, { signal }), store.sink.write(concurrent, { signal })])
    for (const result of results) expect(result).toEqual({ type: 'success' })
    expect(await counts()).toEqual({ rows: COPY_MIN_ROWS + 231, ids: COPY_MIN_ROWS + 231 })
    const read = await store.list({ limit: 1000 })
    expect(new Set(read.items.map((item) => item.id)).size).toBe(COPY_MIN_ROWS + 231)
  })

  it('converts a plain table, rows and all, then expires whole months, old rows of the default partition and rows received long ago', async () => {
    const plain = postgresStore({ client: db.client, schema })
    stores.push(plain)
    await plain.migrate()
    const now = Date.now()
    const row = (timestamp: number, receivedAt: number, note: string): Activity =>
      activity({ timestamp: new Date(timestamp).toISOString(), receivedAt: new Date(receivedAt).toISOString(), description: note })
    const cutoff = now - 45 * DAY
    const rows = {
      longAgo: [row(now - 200 * DAY, now - 200 * DAY, 'long ago'), row(now - 199 * DAY, now - 199 * DAY, 'long ago')],
      // In the month that holds the cutoff, older than it: kept until that whole month is 45 days old.
      cutoffMonth: row((monthStart(cutoff) + cutoff) / 2, (monthStart(cutoff) + cutoff) / 2, 'in the month of the cutoff'),
      recent: row(now - DAY, now - DAY, 'yesterday'),
      // Received long ago with a timestamp of now (a clock ahead, or forged): deleted by when it arrived.
      receivedLongAgo: row(now, now - 200 * DAY, 'received 200 days ago'),
      // Received 60 days ago: within the 31 days' grace of a month partition.
      receivedInGrace: row(now, now - 60 * DAY, 'received 60 days ago'),
      // Rows of the default partition go by the exact rule.
      farFuture: row(Date.UTC(2099, 0, 1), now - 50 * DAY, 'far future, received 50 days ago'),
      farFutureFresh: row(Date.UTC(2099, 0, 1), now, 'far future, received now'),
      ancient: row(Date.UTC(1990, 0, 1), now, 'long before any partition'),
    }
    const all = Object.values(rows).flat()
    await plain.sink.write(all, { signal })
    const before = await plain.list({ limit: 100 })

    const store = open()
    await store.migrate()
    const [kind] = await db.query(`SELECT relkind::text AS kind FROM pg_class WHERE oid = to_regclass($1)`, [`"${schema}".user_activities`])
    expect(kind).toEqual({ kind: 'p' })
    const after = await store.list({ limit: 100 })
    expect(after.items).toEqual(before.items)
    const longAgoMonths = new Set(rows.longAgo.map((item) => `user_activities_p${suffix(Date.parse(item.timestamp))}`))
    for (const name of longAgoMonths) expect(await partitions()).toContain(name)
    const places = await placement()
    expect(places.get(rows.ancient.id)).toBe('user_activities_pdefault')
    expect(places.get(rows.farFuture.id)).toBe('user_activities_pdefault')

    const gone = [...rows.longAgo, rows.receivedLongAgo, rows.farFuture, rows.ancient]
    expect(await store.expireActivities()).toEqual({ deleted: gone.length })
    for (const name of longAgoMonths) expect(await partitions()).not.toContain(name)
    const kept = new Set((await store.list({ limit: 100 })).items.map((item) => item.description))
    expect(kept).toEqual(new Set([rows.cutoffMonth, rows.recent, rows.receivedInGrace, rows.farFutureFresh].map((item) => item.description)))
    expect(await store.expireActivities()).toEqual({ deleted: 0 })
  })

  it('keeps the coming months ready: a missing one is made, with the rows that waited for it in the default partition', async () => {
    const store = open()
    await store.migrate()
    const last = `user_activities_p${suffix(Date.now(), MONTHS_AHEAD)}`
    await db.query(`DROP TABLE "${schema}"."${last}"`)
    const early = activity({ timestamp: new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + MONTHS_AHEAD, 15)).toISOString() })
    await store.sink.write([early], { signal })
    expect((await placement()).get(early.id)).toBe('user_activities_pdefault')
    expect(await store.expireActivities()).toEqual({ deleted: 0 })
    expect(await partitions()).toContain(last)
    expect((await placement()).get(early.id)).toBe(last)
    await store.sink.write([early], { signal })
    expect(await counts()).toEqual({ rows: 1, ids: 1 })
  })
})

describe.skipIf(!serverAvailable)('monthly partitions on the PostgreSQL server', () => {
  let pool: pg.Pool
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: serverUrl, max: 4 })
  })
  afterAll(async () => {
    await pool.end()
  })
  // The file's own cleanup drops the schema from the test database, which may be PGlite.
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close()
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  })

  it('stores a retried batch once over postgres.js (INSERT … SELECT FROM unnest)', async () => {
    const sql = postgres(serverUrl, { max: 2, onnotice: () => {} })
    try {
      const store = postgresStore({ client: sql, schema, partitioning: 'monthly' })
      stores.push(store)
      await store.migrate()
      const batch = [activity(), activity({ timestamp: '2020-02-02T00:00:00.000Z' }), activity({ timestamp: new Date(Date.now() - 40 * DAY).toISOString() })]
      await store.sink.write(batch, { signal })
      await store.sink.write([...batch, activity()], { signal })
      const { rows } = await pool.query(`SELECT count(*)::int AS rows, count(DISTINCT id)::int AS ids FROM "${schema}".user_activities`)
      expect(rows[0]).toEqual({ rows: 4, ids: 4 })
      await store.close()
    } finally {
      await sql.end()
    }
  })

  it(
    'converts a table of 1,000,000 rows over a year, keeping every row, and a retried batch of them makes no duplicate',
    async () => {
      const plain = postgresStore({ client: pool, schema })
      stores.push(plain)
      await plain.migrate()
      // Generated in SQL: 1,000,000 rows over the last 365 days, 1,000 users, a duration to checksum;
      // times in whole milliseconds, as the sink writes them (an activity's ISO time has no more).
      await pool.query(`INSERT INTO "${schema}".user_activities (id, user_id, activity_type, "timestamp", received_at, duration_ms, metadata)
SELECT gen_random_uuid(), 'u' || (n % 1000), CASE WHEN n % 3 = 0 THEN 'chat_completion' ELSE 'page_view' END,
  date_trunc('milliseconds', now() - (n % 365) * interval '1 day' - (n % 86400) * interval '1 second'), now() - (n % 365) * interval '1 day',
  n % 5000, jsonb_build_object('n', n)
FROM generate_series(1, 1000000) AS n`)
      const checksum = `SELECT count(*)::int AS rows, count(DISTINCT id)::int AS ids, sum(duration_ms)::float8 AS duration, count(DISTINCT date_trunc('month', "timestamp", 'UTC'))::int AS months FROM "${schema}".user_activities`
      const [before] = (await pool.query(checksum)).rows
      expect(before.rows).toBe(1_000_000)
      const sample = (await plain.list({ userId: 'u7', limit: 1000 })).items

      const store = postgresStore({ client: pool, schema, partitioning: 'monthly', migrationTimeoutMs: 900_000 })
      stores.push(store)
      await store.migrate()
      const [after] = (await pool.query(checksum)).rows
      expect(after).toEqual(before)
      const monthly = (await partitions(async (text, params) => (await pool.query(text, params)).rows)).filter((name) => /_p\d{4}_\d{2}$/.test(name))
      expect(monthly.length).toBeGreaterThanOrEqual(before.months)
      const { rows: inDefault } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".user_activities_pdefault`)
      expect(inDefault[0].n).toBe(0)

      expect((await store.list({ userId: 'u7', limit: 1000 })).items).toEqual(sample)
      expect(await store.sink.write(sample, { signal })).toEqual({ type: 'success' })
      const [again] = (await pool.query(checksum)).rows
      expect(again).toEqual(before)
    },
    900_000,
  )
})
