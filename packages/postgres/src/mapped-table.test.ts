/**
 * A table the app already has (story 5, the LLM gateway): `activity (id SERIAL PRIMARY KEY, user_id
 * INTEGER REFERENCES users(id), action VARCHAR(100) NOT NULL, details JSONB, created_at TIMESTAMP
 * DEFAULT CURRENT_TIMESTAMP)`, written and read through a mapping, on the real server or PGlite.
 */
import { createTracker, type Activity } from '@usertracking/core'
import { createActivityHandler } from '@usertracking/server'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { activity, signal } from '../test/activities'
import { openTestDatabase, uniqueSchema, type TestDatabase } from '../test/database'
import { postgresStore, PostgresStoreError, type ActivityMapping, type PostgresClient, type PostgresStore } from './index'

let db: TestDatabase
let schema: string

beforeAll(async () => {
  db = await openTestDatabase()
})
afterAll(async () => {
  await db.close()
})
beforeEach(async () => {
  schema = uniqueSchema('mapped')
  await db.exec(`CREATE SCHEMA "${schema}";
SET search_path TO "${schema}";
CREATE TABLE users (id SERIAL PRIMARY KEY, privy_user_id text UNIQUE NOT NULL);
CREATE TABLE activity (
    id SERIAL PRIMARY KEY,
    user_id INTEGER REFERENCES users(id),
    action VARCHAR(100) NOT NULL,
    details JSONB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO users (privy_user_id) SELECT 'did:privy:user' || n FROM generate_series(1, 30) AS n;
SET search_path TO public;`)
})
afterEach(async () => {
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

/** The app's own lookup of its users table: the privy id a request carries ↔ the integer key. */
function usersLookup() {
  const byPrivy = async (privy: unknown) => {
    const [row] = await db.query(`SELECT id FROM "${schema}".users WHERE privy_user_id = $1`, [privy])
    if (!row) throw new Error(`no user ${String(privy)}`)
    return Number(row.id)
  }
  const byId = async (id: unknown) => String((await db.query(`SELECT privy_user_id FROM "${schema}".users WHERE id = $1`, [id]))[0]!.privy_user_id)
  return { write: byPrivy, read: byId }
}

/** Story 5's mapping: the seed's `details` keys, the user looked up in the app's users table. */
function storyMapping(extra: Partial<ActivityMapping['fields']> = {}): ActivityMapping {
  return {
    fields: {
      userId: { column: 'user_id', ...usersLookup() },
      activityType: 'action',
      timestamp: 'created_at',
      sessionId: { key: 'session_id', write: (id) => Number(id), read: (id) => String(id) },
      'tokenUsage.total': { key: 'tokens_used' },
      'tokenUsage.model': { key: 'model' },
      id: { key: 'activity_id' },
      receivedAt: false,
      ...extra,
    },
    json: 'details',
  }
}

function mappedStore(mapping: ActivityMapping = storyMapping()): PostgresStore {
  return postgresStore({ client: db.client, schema, table: 'activity', mapping })
}

function chat(overrides: Partial<Activity> = {}): Activity {
  return activity({
    userId: 'did:privy:user21',
    activityType: 'chat_completion',
    timestamp: '2025-01-09T12:34:56.000Z',
    sessionId: '42',
    tokenUsage: { total: 150, model: 'openai/gpt-4' },
    metadata: { privy_user_id: 'did:privy:cmgg27la00077ie0cyazmvlsa' },
    ...overrides,
  })
}

/**
 * `client` with a count of the statements sent through it: every `query`, on a pg Pool's checked-out
 * clients too. Methods are bound to the real objects, which may keep private fields.
 */
function countingStatements(client: PostgresClient): { client: PostgresClient; count(): number; texts: string[] } {
  let count = 0
  const texts: string[] = []
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(object, key) {
        const value = Reflect.get(object, key, object) as unknown
        if (typeof value !== 'function') return value
        if (key === 'query') {
          return (...args: unknown[]) => {
            count += 1
            texts.push(typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: unknown }).text))
            return (value as (...args: unknown[]) => unknown).apply(object, args)
          }
        }
        if (key === 'connect' && 'totalCount' in object) {
          return async (...args: unknown[]) => wrap((await (value as (...args: unknown[]) => Promise<object>).apply(object, args)) as object)
        }
        return (value as (...args: unknown[]) => unknown).bind(object)
      },
    })
  return { client: wrap(client as object) as PostgresClient, count: () => count, texts }
}

async function columns(): Promise<unknown[]> {
  return db.query(
    `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'activity' ORDER BY ordinal_position`,
    [schema],
  )
}

describe(`postgresStore into an existing table (${process.env.DATABASE_URL ? 'the PostgreSQL server' : 'PGlite'})`, () => {
  it("writes rows exactly as the app's own code did, and never alters the app's columns", async () => {
    const before = await columns()
    const store = mappedStore()
    await store.migrate()
    await store.migrate()
    expect(await columns()).toEqual(before)
    const row = chat()
    expect(await store.sink.write([row], { signal })).toEqual({ type: 'success' })
    const stored = await db.query(`SELECT user_id, action, details, to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS') AS created_at FROM "${schema}".activity`)
    expect(stored).toEqual([
      {
        user_id: 21,
        action: 'chat_completion',
        details: { model: 'openai/gpt-4', tokens_used: 150, session_id: 42, privy_user_id: 'did:privy:cmgg27la00077ie0cyazmvlsa', activity_id: row.id },
        created_at: '2025-01-09T12:34:56',
      },
    ])
  })

  it('stores a retried batch once, through the unique index migrate() put on the id key', async () => {
    const store = mappedStore()
    await store.migrate()
    const batch = Array.from({ length: 40 }, (_, index) => chat({ userId: `did:privy:user${1 + (index % 5)}` }))
    expect(await store.sink.write(batch, { signal })).toEqual({ type: 'success' })
    expect(await store.sink.write([...batch.slice(30), chat(), batch[0]!], { signal })).toEqual({ type: 'success' })
    const [counts] = await db.query(`SELECT count(*)::int AS rows, count(DISTINCT details ->> 'activity_id')::int AS ids FROM "${schema}".activity`)
    expect(counts).toEqual({ rows: 41, ids: 41 })
  })

  it('keeps delivering at-least-once into a table with no place for the id, as documented', async () => {
    const store = mappedStore(storyMapping({ id: false }))
    await store.migrate()
    const batch = [chat(), chat()]
    await store.sink.write(batch, { signal })
    await store.sink.write(batch, { signal })
    const [counts] = await db.query(`SELECT count(*)::int AS rows FROM "${schema}".activity`)
    expect(counts).toEqual({ rows: 4 })
    expect(store.subscribe, 'nothing to announce or read back by id').toBeUndefined()
  })

  it('reads back what it wrote and what the app wrote by hand, with the filters the mapped columns allow', async () => {
    const store = mappedStore()
    await store.migrate()
    const rows = [
      chat({ timestamp: '2025-01-09T10:00:00.000Z', tokenUsage: { total: 50, model: 'a' } }),
      chat({ timestamp: '2025-01-09T11:00:00.000Z', userId: 'did:privy:user3', sessionId: '7', tokenUsage: { total: 500, model: 'b' } }),
      chat({ timestamp: '2025-01-09T12:00:00.000Z', activityType: 'session_created', tokenUsage: undefined, metadata: undefined }),
    ]
    await store.sink.write(rows, { signal })
    // The seed's example entry, inserted by the app's own code before it adopted the SDK.
    await db.query(
      `INSERT INTO "${schema}".activity (user_id, action, details, created_at) VALUES (21, 'chat_completion', '{"model": "openai/gpt-4", "tokens_used": 150, "session_id": 42, "privy_user_id": "did:privy:x"}', '2025-01-09 12:34:56')`,
    )
    const [handWritten] = await db.query(`SELECT id::text AS id FROM "${schema}".activity WHERE details ->> 'activity_id' IS NULL`)

    const mine = await store.list({ userId: 'did:privy:user21', sort: 'timestamp', order: 'asc', includeTotal: true })
    expect(mine.total).toBe(3)
    expect(mine.items).toEqual([
      rows[0],
      rows[2],
      {
        id: handWritten!.id,
        userId: 'did:privy:user21',
        activityType: 'chat_completion',
        timestamp: '2025-01-09T12:34:56.000Z',
        sessionId: '42',
        tokenUsage: { total: 150, model: 'openai/gpt-4' },
        metadata: { privy_user_id: 'did:privy:x' },
      },
    ])
    expect((await store.list({ sessionId: '7' })).items.map((item) => item.id)).toEqual([rows[1]!.id])
    expect((await store.list({ minTokens: 100, sort: 'tokens', order: 'desc' })).items.map((item) => item.tokenUsage?.total)).toEqual([500, 150])
    expect((await store.list({ activityType: ['session_created'], from: '2025-01-09T11:30:00Z' })).items.map((item) => item.id)).toEqual([rows[2]!.id])
    const paged: string[] = []
    let cursor: string | undefined
    do {
      const page = await store.list({ limit: 1, ...(cursor ? { cursor } : {}) })
      paged.push(...page.items.map((item) => item.id))
      cursor = page.nextCursor
    } while (cursor)
    expect(paged).toEqual([handWritten!.id, rows[2]!.id, rows[1]!.id, rows[0]!.id])
    const exported: Activity[] = []
    for await (const item of store.export({ userId: 'did:privy:user3' })) exported.push(item)
    expect(exported.map((item) => item.id)).toEqual([rows[1]!.id])

    const stats = await store.stats({ from: '2025-01-09T00:00:00Z', groupBy: { intervalMs: 4 * 3_600_000, per: 'user' } })
    expect(stats).toMatchObject({ total: 4, uniqueUsers: 2, sessions: 2, tokens: { total: 700 } })
    expect(stats.byType).toEqual([
      { activityType: 'chat_completion', count: 3, tokens: 700, cost: 0 },
      { activityType: 'session_created', count: 1, tokens: 0, cost: 0 },
    ])
    expect(stats.buckets).toEqual([
      { start: '2025-01-09T08:00:00.000Z', key: 'did:privy:user21', count: 1, tokens: 50, cost: 0 },
      { start: '2025-01-09T08:00:00.000Z', key: 'did:privy:user3', count: 1, tokens: 500, cost: 0 },
      { start: '2025-01-09T12:00:00.000Z', key: 'did:privy:user21', count: 2, tokens: 150, cost: 0 },
    ])
    expect((await store.stats({ groupBy: { per: 'visitor' } })).buckets?.map((bucket) => bucket.key)).toEqual(['did:privy:user21', 'did:privy:user3'])
  })

  it('refuses, naming it, a filter, sort or grouping the mapping gives no place', async () => {
    const store = mappedStore(storyMapping({ durationMs: false, anonymousId: false }))
    await store.migrate()
    await expect(store.list({ receivedFrom: '2025-01-01T00:00:00Z' })).rejects.toThrow(/receivedFrom filter cannot be served/)
    await expect(store.list({ sort: 'durationMs' })).rejects.toThrow(/Sorting by durationMs cannot be served/)
    await expect(store.stats({ anonymousId: 'a' })).rejects.toThrow(/anonymousId filter cannot be served/)
    await expect(store.stats({ groupBy: { intervalMs: 60_000, on: 'receivedAt' } })).rejects.toBeInstanceOf(RangeError)
    await expect(store.list({ userId: 'did:privy:nobody' }), "the app's lookup failed").rejects.toThrow(/userId "did:privy:nobody" cannot be converted/)
  })

  it('sends nothing for a query it refuses, so no statement is left to fail after it answered', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const store = mappedStore()
      await store.migrate()
      await store.list()
      // The store still knows the table's shape; any statement it sends from now on fails.
      await db.query(`DROP TABLE "${schema}".activity`)
      await expect(store.stats({ groupBy: { intervalMs: 60_000, on: 'receivedAt' } })).rejects.toBeInstanceOf(RangeError)
      await db.idle()
      // Node reports a rejection nobody handled once the microtasks of the tick that rejected it have run.
      await new Promise((resolve) => setImmediate(resolve))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('refuses filter values and cursors the columns cannot hold with a RangeError, never a database error', async () => {
    const store = mappedStore(storyMapping({ userId: { column: 'user_id', write: (id) => Number(id), read: (id) => String(id) } }))
    await store.migrate()
    await store.sink.write([chat({ userId: '21' }), chat({ userId: '21' })], { signal })
    const first = await store.list({ limit: 1 })
    const [sort, order, at] = JSON.parse(Buffer.from(first.nextCursor!, 'base64url').toString()) as unknown[]
    const cursor = (key: string) => Buffer.from(JSON.stringify([sort, order, at, key])).toString('base64url')
    for (const query of [{ userId: '99999999999' }, { userId: 'not a number' }, { activityType: 'a\u0000b' }, { cursor: cursor('99999999999') }, { cursor: cursor('x') }]) {
      await expect(store.list(query), JSON.stringify(query)).rejects.toBeInstanceOf(RangeError)
    }
    expect((await store.list({ cursor: first.nextCursor! })).items).toHaveLength(1)
  })

  it('checks the table in migrate(), naming the missing or mismatched column', async () => {
    await expect(mappedStore(storyMapping({ activityType: 'event' })).migrate()).rejects.toThrow(/names the column event, which "\S+"\."activity" does not have/)
    await expect(mappedStore(storyMapping({ activityType: 'user_id', userId: false })).migrate()).rejects.toThrow(
      /fields\['activityType'\]: the column user_id of \S+ is of type integer, which cannot hold a text/,
    )
    await expect(mappedStore({ ...storyMapping({ userId: false }), json: 'user_id' }).migrate()).rejects.toThrow(/options.mapping.json: the column user_id .* must be a writable jsonb or json column/)
    await db.query(`ALTER TABLE "${schema}".activity ADD COLUMN tenant text NOT NULL`)
    await expect(mappedStore().migrate()).rejects.toThrow(/column tenant .* is NOT NULL without a default, and the mapping writes nothing into it/)
    await expect(postgresStore({ client: db.client, schema, table: 'missing', mapping: storyMapping() }).migrate()).rejects.toThrow(/does not exist/)
    expect(() => mappedStore({ fields: { activityType: 'action', duration: 'x' } as never, json: 'details' })).toThrow(/options.mapping.fields\['duration'\] is not a field/)
    expect(() => mappedStore({ fields: { durationMs: { column: 'd', write: Number } }, json: 'details' })).toThrow(PostgresStoreError)
  })

  it('reports a write into a table that stopped fitting as a permanent failure naming the column', async () => {
    const store = mappedStore()
    await store.migrate()
    await store.sink.write([chat()], { signal })
    await db.query(`ALTER TABLE "${schema}".activity RENAME COLUMN action TO event`)
    // The store reads the table again on the error, and names what no longer fits.
    const result = await store.sink.write([chat(), chat()], { signal })
    expect(result.type).toBe('failure')
    expect(result.type === 'failure' && (result.error as Error).message).toMatch(/names the column action, which \S+ does not have/)
    // A new store (a restart) finds out before writing anything.
    const restarted = await mappedStore().sink.write([chat()], { signal })
    expect(restarted.type === 'failure' && (restarted.error as Error).message).toMatch(/names the column action/)
  })

  it('reads the table again when a column it learned from the catalog is gone, and carries on', async () => {
    const store = mappedStore()
    await store.migrate()
    const rows = [chat({ userId: 'did:privy:user4' }), chat({ userId: 'did:privy:user5' })]
    await store.sink.write(rows, { signal })
    expect((await store.list()).items).toHaveLength(2)
    // The app's own migration renames its primary key, which the store pages by.
    await db.query(`ALTER TABLE "${schema}".activity RENAME COLUMN id TO activity_pk`)
    const later = chat({ userId: 'did:privy:user5' })
    expect(await store.sink.write([later], { signal })).toEqual({ type: 'success' })
    expect((await store.list({ limit: 2 })).nextCursor).toBeDefined()
    expect(await store.stats()).toMatchObject({ total: 3, uniqueUsers: 2 })
    const exported: string[] = []
    for await (const item of store.export()) exported.push(item.id)
    expect(exported.sort()).toEqual([...rows, later].map((row) => row.id).sort())
    expect(await store.deleteActivities({ userId: 'did:privy:user4' })).toEqual({ deleted: 1 })
    expect((await store.list({ includeTotal: true })).total).toBe(2)
  })

  it('keeps the batch (retryable) until migrate() made the id unique, then stores it', async () => {
    const store = mappedStore()
    const row = chat()
    const early = await store.sink.write([row], { signal })
    expect(early.type === 'retryable' && (early.error as Error).message).toMatch(/no unique index .*run migrate\(\)/)
    await store.migrate()
    expect(await store.sink.write([row], { signal })).toEqual({ type: 'success' })
  })

  it('rejects only the activities the mapping cannot store, naming why', async () => {
    const store = mappedStore()
    await store.migrate()
    const unknownUser = chat({ userId: 'did:privy:stranger' })
    const colliding = chat({ metadata: { model: 'another model' } })
    const tooLong = chat({ activityType: 'x'.repeat(101) })
    const good = chat()
    const result = await store.sink.write([unknownUser, colliding, good, tooLong], { signal })
    expect(result.type).toBe('success')
    const reasons = Object.fromEntries((result.type === 'success' ? (result.rejected ?? []) : []).map((entry) => [entry.id, entry.error]))
    expect(reasons[unknownUser.id]).toMatch(/userId could not be converted for column user_id: no user did:privy:stranger/)
    expect(reasons[colliding.id]).toMatch(/metadata.model cannot be stored: the mapping keeps another field under the key model/)
    expect(reasons[tooLong.id]).toMatch(/22001/)
    expect((await store.list()).items.map((item) => item.id)).toEqual([good.id])
  })

  it('serves as a tracker sink, with toRow and fromRow for what the mapping does not say', async () => {
    const store = mappedStore({
      ...storyMapping(),
      toRow: (_activity, row) => ({ ...row, details: { ...(row.details as object), source: 'usertracking' } }),
      fromRow: (row, built) => ({ ...built, description: `row ${String(row.id)}` }),
    })
    await store.migrate()
    const tracker = createTracker({ sinks: [store.sink], batchSize: 10 })
    tracker.track({ userId: 'did:privy:user5', activityType: 'user_login' })
    tracker.track({ userId: 'did:privy:user5', activityType: 'message_sent', sessionId: '9' })
    await tracker.flush()
    await tracker.shutdown()
    const [row] = await db.query(`SELECT details ->> 'source' AS source FROM "${schema}".activity LIMIT 1`)
    expect(row).toEqual({ source: 'usertracking' })
    const { items } = await store.list({ userId: 'did:privy:user5', order: 'asc' })
    expect(items.map((item) => [item.activityType, item.description?.startsWith('row ')])).toEqual([
      ['user_login', true],
      ['message_sent', true],
    ])
    // What toRow adds to the JSON column and no field claims reads back as metadata.
    expect(items[0]!.metadata).toEqual({ source: 'usertracking' })
  })

  it('deletes a person by the mapped user column, links a visitor into it, and refuses to link without an anonymous id', async () => {
    const store = mappedStore()
    await store.migrate()
    await store.sink.write([chat({ userId: 'did:privy:user4' }), chat({ userId: 'did:privy:user4' }), chat()], { signal })
    expect(await store.deleteActivities({ userId: 'did:privy:user4' })).toEqual({ deleted: 2 })
    expect((await store.list({ includeTotal: true })).total).toBe(1)
    // A late delivery of what they did before is refused, as on the SDK's own table.
    const late = await store.sink.write([chat({ userId: 'did:privy:user4', timestamp: new Date(Date.now() - 60_000).toISOString() })], { signal })
    expect(late.type === 'success' && late.rejected?.length).toBe(1)
    const visitor = chat({ userId: undefined, anonymousId: 'visitor-1' })
    await store.sink.write([visitor], { signal })
    expect(await store.identify({ userId: 'did:privy:user6', anonymousId: 'visitor-1' })).toEqual({ linked: 1 })
    expect((await store.list({ userId: 'did:privy:user6' })).items.map((item) => [item.id, item.anonymousId])).toEqual([[visitor.id, 'visitor-1']])
    const withoutVisitors = mappedStore(storyMapping({ anonymousId: false }))
    await expect(withoutVisitors.identify({ userId: 'did:privy:user4', anonymousId: 'a1' })).rejects.toThrow(/identify\(\) cannot link on this table: it keeps no anonymous id/)
    await expect(withoutVisitors.deleteActivities({ anonymousId: 'a1' })).rejects.toThrow(/cannot find activities by anonymousId/)
  })

  it('screens a small batch for deletions in the insert itself, one statement, refusing what the screening query would', async () => {
    const counted = countingStatements(db.client)
    // notify: false, so that no NOTIFY follows the write.
    const store = postgresStore({ client: counted.client, schema, table: 'activity', mapping: storyMapping(), notify: false })
    await store.migrate()
    await store.deleteActivities({ userId: 'did:privy:user4' })
    const before = new Date(Date.now() - 60_000).toISOString()
    const after = new Date(Date.now() + 60_000).toISOString()
    const mixed = () => [
      chat({ userId: 'did:privy:user4', timestamp: before }),
      chat({ userId: 'did:privy:user4', timestamp: after }),
      chat({ userId: 'did:privy:user5', timestamp: before }),
    ]
    const small = mixed()
    const statements = counted.count()
    expect(await store.sink.write(small, { signal })).toEqual({ type: 'success', rejected: [{ id: small[0]!.id, error: 'The person was deleted after this activity was tracked.' }] })
    // The insert alone (the user id lookups are the mapping's own, on the test's connection).
    expect(counted.count() - statements).toBe(1)
    // Eight or more go through the screening query first, and refuse the same.
    const large = [...mixed(), ...mixed(), ...mixed()]
    const result = await store.sink.write(large, { signal })
    expect(result.type === 'success' && result.rejected!.map((each) => each.id).sort()).toEqual([large[0]!.id, large[3]!.id, large[6]!.id].sort())
    const stored = await store.list({ sort: 'timestamp', order: 'asc', limit: 100 })
    expect(stored.items.map((item) => item.id).sort()).toEqual([small[1], small[2], large[1], large[2], large[4], large[5], large[7], large[8]].map((each) => each!.id).sort())
  })

  it('sends one insert text for the same columns, whatever order a batch fills them in (one prepared statement, not one per order)', async () => {
    const counted = countingStatements(db.client)
    const store = postgresStore({ client: counted.client, schema, table: 'activity', mapping: storyMapping(), notify: false })
    await store.migrate()
    const from = counted.texts.length
    const visitor = () => chat({ userId: undefined, anonymousId: 'visitor-1' })
    const inserts = () => counted.texts.slice(from).filter((text) => text.includes('INSERT INTO'))
    expect(await store.sink.write([visitor(), chat()], { signal })).toEqual({ type: 'success' })
    expect(await store.sink.write([chat(), visitor()], { signal })).toEqual({ type: 'success' })
    expect(inserts()).toHaveLength(2)
    expect(inserts()[0]).toBe(inserts()[1])
    expect((await store.list({ includeTotal: true })).total).toBe(4)
  })

  it('pushes new rows to subscribers, read back by the id key', async () => {
    const store = mappedStore()
    await store.migrate()
    const heard: Activity[] = []
    const stop = store.subscribe!({ userId: 'did:privy:user8' }, (activities) => heard.push(...activities))
    try {
      const mine = chat({ userId: 'did:privy:user8' })
      await store.sink.write([chat(), mine], { signal })
      await expect.poll(() => heard.map((item) => item.id)).toEqual([mine.id])
    } finally {
      stop()
      await store.close()
    }
  })

  it("serves story 5's own routes from its own table: /api/user/activity/log and /stats in the seed's shape", async () => {
    const store = mappedStore(storyMapping({ userId: { column: 'user_id', write: (id) => Number(id), read: (id) => String(id) } }))
    await store.migrate()
    const handler = createActivityHandler({
      store,
      // The gateway's session says which users.id is signed in.
      authenticate: (request) => ({ userId: request.headers.get('authorization')!.replace('Bearer ', '') }),
      routes: { ingest: false, event: false, list: '/user/activity/log', stats: '/user/activity/stats', export: false, stream: false },
      present: {
        list: ({ items }) => ({
          items: items.map((entry) => ({
            user_id: Number(entry.userId),
            action: entry.activityType,
            details: { ...entry.metadata, model: entry.tokenUsage?.model, tokens_used: entry.tokenUsage?.total, session_id: Number(entry.sessionId) },
            created_at: entry.timestamp,
          })),
        }),
      },
    })
    await store.sink.write([chat({ userId: '21' }), chat({ userId: '22', activityType: 'user_login', tokenUsage: undefined, metadata: undefined })], { signal })
    // And an entry the gateway wrote before it adopted the SDK.
    await db.query(
      `INSERT INTO "${schema}".activity (user_id, action, details, created_at) VALUES (21, 'message_sent', '{"session_id": 42, "privy_user_id": "did:privy:x"}', '2025-01-09 12:40:00')`,
    )
    const ask = async (path: string) => (await handler(new Request(`http://localhost/api/user/activity/${path}`, { headers: { authorization: 'Bearer 21' } }))).json()
    expect(await ask('log')).toEqual({
      items: [
        { user_id: 21, action: 'message_sent', details: { privy_user_id: 'did:privy:x', session_id: 42 }, created_at: '2025-01-09T12:40:00.000Z' },
        {
          user_id: 21,
          action: 'chat_completion',
          details: { model: 'openai/gpt-4', tokens_used: 150, session_id: 42, privy_user_id: 'did:privy:cmgg27la00077ie0cyazmvlsa' },
          created_at: '2025-01-09T12:34:56.000Z',
        },
      ],
    })
    expect(await ask('stats?from=2025-01-01T00:00:00Z')).toMatchObject({ total: 2, tokens: { total: 150 } })
    handler.close()
  })

  it('expires rows of the app\'s table by its own time column, in batches, and keeps the others', async () => {
    const store = postgresStore({ client: db.client, schema, table: 'activity', mapping: storyMapping(), retention: { maxAgeDays: 30, runInBackground: false } })
    await store.migrate()
    const day = 86_400_000
    const old = Array.from({ length: 5 }, (_, index) => chat({ timestamp: new Date(Date.now() - (40 + index) * day).toISOString() }))
    const young = [chat({ timestamp: new Date(Date.now() - day).toISOString() }), chat({ timestamp: new Date().toISOString() })]
    await store.sink.write([...old, ...young], { signal })
    // A row the app wrote itself, with no activity id: its age still counts.
    await db.query(`INSERT INTO "${schema}".activity (user_id, action, created_at) VALUES (1, 'login', now() - interval '90 days')`)
    expect(await store.expireActivities()).toEqual({ deleted: 6 })
    const left = await db.query(`SELECT details ->> 'activity_id' AS id FROM "${schema}".activity ORDER BY id`)
    expect(left.map((row) => row.id).sort()).toEqual(young.map((row) => row.id).sort())
    await store.close()
  })
})
