import { readFile } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import { createTracker, type Activity } from '@usertracking/core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { activity, NASTY, nastyActivity, signal, withoutReceivedAt } from '../test/activities'
import { openTestDatabase, uniqueSchema, type TestDatabase } from '../test/database'
import { postgresStore, PostgresStoreError, SCHEMA_VERSION, schemaSql, type PostgresStore } from './index'
import { COPY_MIN_ROWS } from './postgres-sink'

let db: TestDatabase
let schema: string
let store: PostgresStore

beforeAll(async () => {
  db = await openTestDatabase()
})
afterAll(async () => {
  await db.close()
})
beforeEach(async () => {
  schema = uniqueSchema()
  store = postgresStore({ client: db.client, schema })
  await store.migrate()
})
afterEach(async () => {
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

async function storedIds(): Promise<string[]> {
  const rows = await db.query(`SELECT id::text AS id FROM "${schema}".user_activities ORDER BY id`)
  return rows.map((row) => String(row.id))
}

/** What a tombstone keeps of an id, computed here by Node rather than by the database. */
function subjectHash(id: string): string {
  return `sha256:${createHash('sha256').update(id, 'utf8').digest('hex')}`
}

async function readAll(target: PostgresStore = store): Promise<Activity[]> {
  const items: Activity[] = []
  for await (const item of target.export()) items.push(item)
  return items
}

describe(`postgresStore on ${process.env.DATABASE_URL ? 'the PostgreSQL server' : 'PGlite'}`, () => {
  it('stores a retried batch once: whole, overlapping, and with an id twice in one batch', async () => {
    // Large enough for the COPY path, whose retry meets stored ids and takes the staged INSERT.
    const batch = Array.from({ length: COPY_MIN_ROWS + 10 }, (_, index) => activity({ userId: `u${index % 3}` }))
    expect(await store.sink.write(batch, { signal })).toEqual({ type: 'success' })
    // The tracker resends a batch whose acknowledgement was lost, maybe regrouped with new rows.
    expect(await store.sink.write(batch, { signal })).toEqual({ type: 'success' })
    const more = Array.from({ length: 10 }, () => activity())
    expect(await store.sink.write([...batch.slice(10), ...more, more[0]!], { signal })).toEqual({ type: 'success' })
    const ids = await storedIds()
    expect(ids).toEqual([...batch, ...more].map((row) => row.id).sort())
    expect((await store.list({ includeTotal: true })).total).toBe(COPY_MIN_ROWS + 20)
  })

  it('serves as a tracker sink: the app-shaped inputs stored, a refused row dropped as rejected', async () => {
    const tracker = createTracker({ sinks: [store.sink], batchSize: 10 })
    tracker.track({ user_id: 6, action: 'deleted', event_action_timestamp: '2025-10-10T18:30:00Z', metadata: { ip: '192.168.1.10' } })
    tracker.track({ userId: 'abc123', activityType: 'resume_generation', timeTaken: 3.2, tokenUsage: 1420 })
    tracker.track({ userId: 'abc123', activityType: 'too_old', timestamp: '-010000-01-01T00:00:00.000Z' })
    await tracker.flush()
    expect(tracker.stats()).toMatchObject({ sent: 2, dropped: 1, droppedByReason: { rejected: 1 } })
    await tracker.shutdown()
    const { items } = await store.list({ sort: 'timestamp', order: 'asc' })
    expect(items).toMatchObject([
      { userId: '6', activityType: 'deleted', timestamp: '2025-10-10T18:30:00.000Z', metadata: { ip: '192.168.1.10' } },
      { userId: 'abc123', activityType: 'resume_generation', durationMs: 3200, tokenUsage: { total: 1420 } },
    ])
  })

  it('keeps the first write of an id: a retry never overwrites', async () => {
    const original = activity({ description: 'first' })
    await store.sink.write([original], { signal })
    await store.sink.write([{ ...original, description: 'second' }], { signal })
    expect((await store.list()).items.map((row) => row.description)).toEqual(['first'])
  })

  it('splits a batch to find the rows the database refuses, and stores all the others', async () => {
    const good = Array.from({ length: 45 }, () => activity())
    const outOfRange = activity({ timestamp: '-010000-01-01T00:00:00.000Z' })
    const badStatus = activity({ status: 'pending' as never })
    // Random text does not compress, so this key is too large for the (user_id, …) btree index.
    const hugeUser = activity({ userId: randomBytes(12_000).toString('base64') })
    const notUuid = activity({ id: 'not-a-uuid' })
    const batch = [...good.slice(0, 10), outOfRange, ...good.slice(10, 30), badStatus, hugeUser, ...good.slice(30), notUuid]
    const result = await store.sink.write(batch, { signal })
    expect(result.type).toBe('success')
    const rejected = result.type === 'success' ? (result.rejected ?? []) : []
    expect(rejected.map((entry) => entry.id).sort()).toEqual([outOfRange, badStatus, hugeUser, notUuid].map((row) => row.id).sort())
    const reasons = Object.fromEntries(rejected.map((entry) => [entry.id, entry.error]))
    expect(reasons[outOfRange.id]).toMatch(/out of range.*22008/)
    expect(reasons[badStatus.id]).toMatch(/check constraint.*23514/)
    expect(reasons[hugeUser.id]).toMatch(/54000/)
    expect(reasons[notUuid.id]).toBe('id is not a UUID.')
    expect(await storedIds()).toEqual(good.map((row) => row.id).sort())
  })

  it(`writes batches on both sides of ${COPY_MIN_ROWS} rows (one INSERT below, a COPY from there) alike: retried, stamped or not, a refused row alone`, async () => {
    for (const size of [1, COPY_MIN_ROWS - 1, COPY_MIN_ROWS]) {
      const stamped = Array.from({ length: size }, (_, index) => activity({ receivedAt: index % 2 === 0 ? '2025-07-06T10:05:00.000Z' : undefined }))
      const refused = activity({ timestamp: '-010000-01-01T00:00:00.000Z' })
      const first = await store.sink.write([...stamped.slice(0, -1), refused, stamped.at(-1)!], { signal })
      expect(first.type === 'success' && first.rejected?.map((entry) => entry.id), `${size} rows`).toEqual([refused.id])
      expect(await store.sink.write(stamped, { signal }), `${size} rows again`).toEqual({ type: 'success' })
      const rows = await db.query(`SELECT id::text AS id, received_at = '2025-07-06T10:05:00Z' AS kept FROM "${schema}".user_activities WHERE id = ANY($1::uuid[])`, [
        stamped.map((row) => row.id),
      ])
      expect(rows.map((row) => [row.id, row.kept]).sort()).toEqual(stamped.map((row) => [row.id, row.receivedAt !== undefined]).sort())
    }
  })

  it('stores SQL, NUL characters, emoji and very long strings in every field, and reads them back exactly', async () => {
    const rows = NASTY.map((text, index) => nastyActivity(text, index))
    rows.push({ ...nastyActivity('long', 9), description: `${'\u0000🚀x'.repeat(200_000)}end`, metadata: { long: 'ü'.repeat(100_000) } })
    const result = await store.sink.write(rows, { signal })
    expect(result).toEqual({ type: 'success' })
    const byId = new Map((await readAll()).map((row) => [row.id, row]))
    for (const row of rows) expect(withoutReceivedAt(byId.get(row.id)!)).toEqual(row)
    for (const row of rows) {
      const found = await store.list({ userId: row.userId!, activityType: [row.activityType, 'other'] })
      expect(found.items.map((item) => item.id)).toEqual([row.id])
    }
    const stats = await store.stats({ userId: rows[1]!.userId! })
    expect(stats.byType).toEqual([{ activityType: rows[1]!.activityType, count: 1, tokens: 1420, cost: 0 }])
  })

  it('stores JSON as JSON objects that SQL can query, not as strings', async () => {
    const row = activity({ metadata: { jobTitle: 'Data Engineer', nested: { n: 1 } }, tokenUsage: { input: 2, output: 3, total: 5 } })
    await store.sink.write([row], { signal })
    const [stored] = await db.query(
      `SELECT jsonb_typeof(metadata) AS metadata, metadata->'nested'->>'n' AS n, total_tokens AS total, jsonb_typeof(token_usage) AS usage
       FROM "${schema}".user_activities`,
    )
    expect(stored).toEqual({ metadata: 'object', n: '1', total: 5, usage: 'object' })
  })

  it('answers a write that was aborted before it started as retryable, and writes nothing', async () => {
    const controller = new AbortController()
    controller.abort(new Error('shutting down'))
    const result = await store.sink.write([activity()], { signal: controller.signal })
    expect(result.type).toBe('retryable')
    expect(await storedIds()).toEqual([])
  })

  it('keeps the batch (retryable) when the table does not exist yet, naming the table', async () => {
    const unmigrated = postgresStore({ client: db.client, schema, table: 'not_migrated_yet' })
    const result = await unmigrated.sink.write([activity()], { signal })
    expect(result.type).toBe('retryable')
    const error = result.type === 'retryable' ? result.error : undefined
    expect(error).toBeInstanceOf(PostgresStoreError)
    expect((error as PostgresStoreError).message).toMatch(/^\[usertracking\] \[postgres\] Writing 1 activities to .*not_migrated_yet.* failed: /)
    expect((error as PostgresStoreError).code).toBe('42P01')
  })

  it('answers a table that can never take the batch (a dropped column) as a permanent failure', async () => {
    await db.query(`ALTER TABLE "${schema}".user_activities DROP COLUMN error`)
    const result = await store.sink.write([activity(), activity()], { signal })
    expect(result.type).toBe('failure')
    expect(result.type === 'failure' && (result.error as PostgresStoreError).code).toBe('42703')
  })

  it('answers a table whose column has another type as a permanent failure naming the column', async () => {
    await db.query(`ALTER TABLE "${schema}".user_activities ALTER COLUMN session_id TYPE integer USING NULL`)
    const result = await store.sink.write([activity({ sessionId: 's1' }), activity({ sessionId: 's2' })], { signal })
    expect(result.type).toBe('failure')
    const error = result.type === 'failure' ? (result.error as PostgresStoreError) : undefined
    expect(error?.message).toMatch(/session_id/)
    expect(error?.message).toMatch(/run migrate\(\), or describe the table with options.mapping/)
  })

  it('computes stats over rows no sum or average can hold, written by hand or by an older version', async () => {
    const table = `"${schema}".user_activities`
    const insert = (durationMs: string, tokenUsage: string, cost: string) =>
      db.query(
        `INSERT INTO ${table} (id, user_id, activity_type, "timestamp", duration_ms, token_usage, cost)
         VALUES (gen_random_uuid(), 'huge', 'llm', now(), ${durationMs}::float8, '${tokenUsage}'::jsonb, '${cost}'::jsonb)`,
      )
    await insert('1e308', '{"input": 1e308, "output": 1e400, "total": 1e308}', '{"total": 1e400}')
    await insert('1e308', '{"input": 1e308, "output": 1e308, "total": 1e308}', '{"total": 1e308}')
    await insert("'Infinity'", '{"total": 5}', '{"total": 1}')
    await insert("'-Infinity'", '{"total": 5}', '{"total": 1}')
    await insert("'NaN'", '{"total": 5}', '{"total": 1}')
    for (const query of [{}, { userId: 'huge' }, { groupBy: { intervalMs: 3_600_000, per: 'user' as const } }, { groupBy: { per: 'activityType' as const } }]) {
      const stats = await store.stats(query)
      expect(stats.total).toBe(5)
      const figures = [stats.tokens.input, stats.tokens.output, stats.tokens.total, stats.cost.total, stats.duration.avgMs, stats.duration.p50Ms, stats.duration.p95Ms]
      for (const figure of figures) expect(Number.isFinite(figure), JSON.stringify(figures)).toBe(true)
      expect(stats.tokens.total).toBe(Number.MAX_VALUE)
      for (const bucket of stats.buckets ?? []) expect(Number.isFinite(bucket.tokens) && Number.isFinite(bucket.cost)).toBe(true)
      // What JSON carries to a client is what was computed: no Infinity turned into null.
      expect(JSON.parse(JSON.stringify(stats))).toEqual(stats)
    }
    const { items } = await store.list({ userId: 'huge', sort: 'tokens' })
    expect(items).toHaveLength(5)
  })

  it('refuses dates PostgreSQL cannot hold with a RangeError naming the filter, on list, stats and export', async () => {
    const cases = [
      { from: '-271821-04-20' },
      { to: new Date(-8_640_000_000_000_000) },
      { receivedFrom: '-010000-01-01T00:00:00.000Z' },
      { receivedTo: 'not a date' },
    ]
    for (const filter of cases) {
      const field = Object.keys(filter)[0]!
      await expect(store.list(filter), field).rejects.toThrow(new RegExp(`^\\[usertracking\\] \\[postgres\\] ${field} `))
      await expect(store.list(filter)).rejects.toBeInstanceOf(RangeError)
      await expect(store.stats(filter)).rejects.toBeInstanceOf(RangeError)
      await expect((async () => {
        for await (const row of store.export(filter)) void row
      })()).rejects.toBeInstanceOf(RangeError)
    }
  })

  it('refuses a well-formed cursor holding a position no row can have, with a RangeError', async () => {
    await store.sink.write([activity(), activity()], { signal })
    const id = (await store.list()).items[0]!.id
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const cursors = [
      encode(['timestamp', 'desc', '99999999999999999999999', id]),
      encode(['timestamp', 'desc', '-9999999999999999999', id]),
      encode(['timestamp', 'desc', '1e5', id]),
      encode(['tokens', 'desc', 1e308, 'not-a-uuid']),
      Buffer.from(`["tokens","desc",1e999,"${id}"]`).toString('base64url'),
    ]
    for (const cursor of cursors) {
      await expect(store.list({ cursor, sort: cursor === cursors[3] || cursor === cursors[4] ? 'tokens' : 'timestamp' }), cursor).rejects.toBeInstanceOf(RangeError)
    }
    // A far but holdable position is a cursor like any other: an empty page, not an error.
    const far = await store.list({ cursor: encode(['tokens', 'desc', -1e308, id]), sort: 'tokens' })
    expect(far.nextCursor).toBeUndefined()
  })

  it('refuses an interval finer than a millisecond, and filters by thousands of types in one statement', async () => {
    await expect(store.stats({ groupBy: { intervalMs: 1e-300 } })).rejects.toThrow(/groupBy.intervalMs must be at least 1 millisecond/)
    const rows = [activity({ activityType: 'type-4999' }), activity({ activityType: 'other' })]
    await store.sink.write(rows, { signal })
    const types = Array.from({ length: 70_000 }, (_, index) => `type-${index}`)
    expect((await store.list({ activityType: types })).items.map((item) => item.id)).toEqual([rows[0]!.id])
  })

  it("keeps a deleted person's tombstones as SHA-256 of their ids, never the ids, and still refuses their late deliveries", async () => {
    const before = new Date(Date.now() - 60_000).toISOString()
    await store.sink.write([activity({ userId: 'person@example.com', timestamp: before })], { signal })
    await store.identify({ userId: 'person@example.com', anonymousId: 'visitor-9' })
    expect(await store.deleteActivities({ userId: 'person@example.com' })).toEqual({ deleted: 1 })
    expect(await db.query(`SELECT subject_kind, subject FROM "${schema}".user_activities_deletions ORDER BY subject_kind`)).toEqual([
      { subject_kind: 'anonymous', subject: subjectHash('visitor-9') },
      { subject_kind: 'user', subject: subjectHash('person@example.com') },
    ])
    const late = [activity({ userId: 'person@example.com', timestamp: before }), activity({ userId: undefined, anonymousId: 'visitor-9', timestamp: before })]
    const stranger = activity({ userId: 'someone-else', timestamp: before })
    const result = await store.sink.write([...late, stranger], { signal })
    expect(result.type === 'success' && result.rejected?.map((entry) => entry.id).sort()).toEqual(late.map((row) => row.id).sort())
    expect(await storedIds()).toEqual([stranger.id])
  })

  it('hashes, in migrate(), the tombstones an older version kept in plain text, and they still refuse', async () => {
    await db.query(`INSERT INTO "${schema}".user_activities_deletions (subject_kind, subject) VALUES ('user', 'older@example.com'), ('anonymous', 'visitor-1')`)
    await db.query(`DELETE FROM "${schema}".usertracking_migrations WHERE version >= 3`)
    await store.migrate()
    expect(await db.query(`SELECT subject FROM "${schema}".user_activities_deletions ORDER BY subject_kind`)).toEqual([
      { subject: subjectHash('visitor-1') },
      { subject: subjectHash('older@example.com') },
    ])
    const late = activity({ userId: 'older@example.com', timestamp: new Date(Date.now() - 60_000).toISOString() })
    const result = await store.sink.write([late], { signal })
    expect(result.type === 'success' && result.rejected?.map((entry) => entry.id)).toEqual([late.id])
  })

  it('writes small batches through the function migrate() creates; without it, the statement itself, with one warning', async () => {
    const ingest = `"${schema}".user_activities_ingest`
    // The sink calls the function: one that refuses every call fails the write.
    const original = await db.query(`SELECT pg_get_functiondef('${ingest}'::regproc) AS definition`)
    await db.query(`CREATE OR REPLACE FUNCTION ${ingest}(text[], text[], text[], text[], text[], text[], text[], text[], float8[], text[], text[], text[], text[], text[], text[], text[], float8)
      RETURNS TABLE (id text, deleted boolean) LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the ingest function was called'; END $$`)
    const refused = await store.sink.write([activity()], { signal })
    expect(refused.type !== 'success' && refused.error instanceof Error ? refused.error.message : '').toContain('the ingest function was called')
    await db.query(String(original[0]!.definition))
    expect(await store.sink.write([activity()], { signal })).toEqual({ type: 'success' })

    // A database whose schema came from an older sql/schema.sql has none: the same rows are stored and screened.
    const warnings: Error[] = []
    const older = postgresStore({ client: db.client, schema, onWarning: (warning) => warnings.push(warning) })
    const before = new Date(Date.now() - 60_000).toISOString()
    await store.sink.write([activity({ userId: 'gone@example.com', timestamp: before })], { signal })
    await store.deleteActivities({ userId: 'gone@example.com' })
    await db.query(`DROP FUNCTION ${ingest}`)
    const late = activity({ userId: 'gone@example.com', timestamp: before })
    const kept = activity()
    const result = await older.sink.write([late, kept], { signal })
    expect(result).toEqual({ type: 'success', rejected: [{ id: late.id, error: expect.any(String) }] })
    expect(await older.sink.write([activity()], { signal })).toEqual({ type: 'success' })
    expect(warnings.map((warning) => warning.message)).toEqual([expect.stringContaining('user_activities_ingest')])
    expect((await storedIds()).includes(kept.id)).toBe(true)
  })

  it('migrates concurrently from several clients, once', async () => {
    const fresh = uniqueSchema('concurrent')
    try {
      const stores = [db.client, db.anotherClient(), db.anotherClient(), db.client].map((client) =>
        postgresStore({ client, schema: fresh, table: 'events' }),
      )
      const others = [db.anotherClient(), db.anotherClient()].map((client, index) =>
        postgresStore({ client, schema: fresh, table: `other_${index}` }),
      )
      await Promise.all([...stores, ...others].map((each) => each.migrate()))
      await stores[0]!.migrate()
      const versions = await db.query(`SELECT table_name, max(version)::int4 AS version FROM "${fresh}".usertracking_migrations GROUP BY 1 ORDER BY 1`)
      expect(versions).toEqual([
        { table_name: 'events', version: SCHEMA_VERSION },
        { table_name: 'other_0', version: SCHEMA_VERSION },
        { table_name: 'other_1', version: SCHEMA_VERSION },
      ])
      const row = activity()
      expect(await stores[1]!.sink.write([row], { signal })).toEqual({ type: 'success' })
      expect((await stores[2]!.list()).items.map((item) => item.id)).toEqual([row.id])
    } finally {
      await db.query(`DROP SCHEMA IF EXISTS "${fresh}" CASCADE`)
    }
  })

  it('ships sql/schema.sql as exactly what migrate() applies, and the two mix', async () => {
    const file = await readFile(new URL('../sql/schema.sql', import.meta.url), 'utf8')
    const withoutComments = file
      .split('\n')
      .filter((line) => !line.startsWith('--'))
      .join('\n')
    expect(withoutComments).toBe(schemaSql())
    const fresh = uniqueSchema('by_hand')
    try {
      await db.exec(schemaSql(fresh, 'my activities'))
      const mine = postgresStore({ client: db.client, schema: fresh, table: 'my activities' })
      await mine.migrate()
      const row = activity()
      await mine.sink.write([row], { signal })
      expect((await mine.list()).items.map(withoutReceivedAt)).toEqual([row])
      expect(await db.query(`SELECT version FROM "${fresh}".usertracking_migrations ORDER BY version`)).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }])
    } finally {
      await db.query(`DROP SCHEMA IF EXISTS "${fresh}" CASCADE`)
    }
  })

  it('takes any table name, quotes and all', async () => {
    const odd = postgresStore({ client: db.client, schema, table: `we"ird '; DROP TABLE x; --` })
    await odd.migrate()
    const row = activity()
    await odd.sink.write([row], { signal })
    expect((await odd.list()).items.map((item) => item.id)).toEqual([row.id])
    expect(() => postgresStore({ client: db.client, table: 'x'.repeat(49) })).toThrow(PostgresStoreError)
  })

  it('refuses a cursor issued for another sort, and queries it cannot run, with a RangeError', async () => {
    await store.sink.write([activity(), activity()], { signal })
    const page = await store.list({ limit: 1 })
    await expect(store.list({ cursor: page.nextCursor!, sort: 'tokens' })).rejects.toThrow(/sorted by timestamp desc/)
    await expect(store.list({ sort: 'name' as never })).rejects.toBeInstanceOf(RangeError)
    await expect(store.list({ from: 'yesterday' })).rejects.toBeInstanceOf(RangeError)
    await expect(store.stats({ groupBy: { intervalMs: 0 } })).rejects.toBeInstanceOf(RangeError)
  })

  it('stores and pages through timestamps from 4000 BC to the year 275760, to the millisecond', async () => {
    const times = [
      '-003999-02-28T23:59:59.999Z',
      '0001-01-01T00:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
      '1970-01-01T00:00:00.001Z',
      '2025-07-06T10:05:00.123Z',
      '9999-12-31T23:59:59.999Z',
      '+010000-01-01T00:00:00.000Z',
      '+275760-09-13T00:00:00.000Z',
    ]
    const rows = times.map((timestamp) => activity({ timestamp, endTime: timestamp, receivedAt: timestamp }))
    expect(await store.sink.write(rows, { signal })).toEqual({ type: 'success' })
    for (const order of ['asc', 'desc'] as const) {
      const seen: Activity[] = []
      let cursor: string | undefined
      do {
        const page = await store.list({ order, limit: 3, ...(cursor ? { cursor } : {}) })
        seen.push(...page.items)
        cursor = page.nextCursor
      } while (cursor)
      const expected = order === 'asc' ? rows : [...rows].reverse()
      expect(seen).toEqual(expected)
    }
    const middle = await store.list({ from: '0001-01-01T00:00:00.000Z', to: '+010000-01-01T00:00:00.000Z', order: 'asc' })
    expect(middle.items.map((item) => item.timestamp)).toEqual(times.slice(1, 6))
  })

  it('clamps the page size to 1..1000', async () => {
    await store.sink.write(Array.from({ length: 3 }, () => activity()), { signal })
    expect((await store.list({ limit: 0 })).items).toHaveLength(1)
    expect((await store.list({ limit: 5000 })).items).toHaveLength(3)
  })

  it('counts per user every 4 hours, in buckets aligned to the epoch', async () => {
    const at = (iso: string, userId: string) => activity({ timestamp: iso, userId })
    await store.sink.write(
      [
        at('2025-10-10T00:00:00.000Z', '6'),
        at('2025-10-10T03:59:59.999Z', '6'),
        at('2025-10-10T04:00:00.000Z', '6'),
        at('2025-10-10T18:30:00.000Z', '7'),
        at('2025-10-10T18:30:00.000Z', '6'),
      ],
      { signal },
    )
    const stats = await store.stats({ from: '2025-10-10T00:00:00Z', to: '2025-10-11T00:00:00Z', groupBy: { intervalMs: 4 * 3_600_000, per: 'user' } })
    expect(stats.buckets).toEqual([
      { start: '2025-10-10T00:00:00.000Z', key: '6', count: 2, tokens: 0, cost: 0 },
      { start: '2025-10-10T04:00:00.000Z', key: '6', count: 1, tokens: 0, cost: 0 },
      { start: '2025-10-10T16:00:00.000Z', key: '6', count: 1, tokens: 0, cost: 0 },
      { start: '2025-10-10T16:00:00.000Z', key: '7', count: 1, tokens: 0, cost: 0 },
    ])
    expect(stats.uniqueUsers).toBe(2)
  })
})

describe('postgresStore options', () => {
  it('refuses a client it does not know', () => {
    expect(() => postgresStore({ client: {} as never })).toThrow(/node-postgres Pool or Client, a postgres.js sql instance or a PGlite instance/)
  })

  it('refuses a time bound no timer can keep, naming the option', () => {
    // Past 2^31 - 1 ms, Node fires a timer after 1 ms: every statement would time out at once.
    for (const field of ['queryTimeoutMs', 'migrationTimeoutMs'] as const) {
      for (const value of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '1000']) {
        expect(() => postgresStore({ client: db.client, [field]: value as number }), `${field}: ${String(value)}`).toThrow(
          new RegExp(`options.${field} must be a number of milliseconds from 1 to 2147483647`),
        )
      }
      expect(() => postgresStore({ client: db.client, [field]: 2 ** 31 - 1 })).not.toThrow()
    }
  })
})
