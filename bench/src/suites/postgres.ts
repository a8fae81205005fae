/**
 * @usertracking/postgres on the real server at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test):
 *
 * 1. Writes: rows per second for 100k activities through `store.sink` (batches of 1000, one write in
 *    flight, as a tracker drives it), beside a naive one-INSERT-per-event loop (what a hand-written
 *    API route does; timed over 5k rows, since at its pace 100k would take most of a minute) and raw
 *    binary COPY through pg-copy-streams with no SDK around it (the ceiling: one COPY statement
 *    streaming all 100k rows). Every target table is created by the same `migrate()`, indexes included;
 *    raw COPY and the sink take turns twice and each keeps its best run.
 *    Also: COPY into a temp table + INSERT … ON CONFLICT for every batch (hand-written), the same
 *    sink over postgres.js (no COPY there, so INSERT … SELECT FROM unnest), the sink re-sending
 *    100k rows it already holds (every batch a retry), and the sink with `notify: false` (what the
 *    default NOTIFY of each write, for `subscribe`, costs).
 * 2. An existing table (story 5's `activity (id SERIAL, user_id INTEGER REFERENCES users, action
 *    VARCHAR(100), details JSONB, created_at TIMESTAMP)`) through `postgresStore({ table, mapping })`
 *    (batches of 1000, the activity id in a `details` key with a unique index), beside one INSERT
 *    per activity into the same table, in the same run. Target ≥ 10×.
 * 3. Reads: `list` latency over a 1M-row table (seeded once with generate_series, reused by later
 *    runs): one user's first page (beside the bare query without the SDK), and 20-page keyset walks
 *    for one user and across all users.
 */
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import type { Activity } from '@usertracking/core'
import { benchActivities } from '../bench-activities'
import { postgresStore, type PostgresStore } from '@usertracking/postgres'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import postgres from 'postgres'

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const SCHEMA = 'usertracking_bench'
const WRITE_ROWS = 100_000
const NAIVE_ROWS = 5_000
const BATCH = 1_000
const LIST_ROWS = 1_000_000
const LIST_USERS = 1_000
const PAGE = 50
const WALK_PAGES = 20
const signal = new AbortController().signal

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 })

// ---------------------------------------------------------------- data: ~400-byte activities

const activities = (count: number): Activity[] => benchActivities(count, { users: 5000, sessions: 20000 })

async function freshTable(name: string, client: pg.Pool | ReturnType<typeof postgres> = pool): Promise<PostgresStore> {
  await pool.query(`DROP TABLE IF EXISTS "${SCHEMA}"."${name}"`)
  const store = postgresStore({ client, schema: SCHEMA, table: name })
  await store.migrate()
  return store
}

async function dropTable(name: string): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS "${SCHEMA}"."${name}"`)
  await pool.query(`DELETE FROM "${SCHEMA}".usertracking_migrations WHERE table_name = $1`, [name])
}

async function countRows(name: string): Promise<number> {
  const { rows } = await pool.query(`SELECT count(*)::int AS count FROM "${SCHEMA}"."${name}"`)
  return rows[0].count
}

async function timeSink(store: PostgresStore, rows: Activity[]): Promise<number> {
  const started = performance.now()
  for (let offset = 0; offset < rows.length; offset += BATCH) {
    const result = await store.sink.write(rows.slice(offset, offset + BATCH), { signal })
    if (result.type !== 'success' || result.rejected) throw new Error(`sink write failed: ${JSON.stringify(result)}`)
  }
  return (rows.length / (performance.now() - started)) * 1000
}

// ---------------------------------------------------------------- the naive loop

async function naiveLoop(name: string, rows: Activity[]): Promise<number> {
  const table = `"${SCHEMA}"."${name}"`
  const started = performance.now()
  for (const row of rows) {
    await pool.query(
      `INSERT INTO ${table} (id, user_id, session_id, activity_type, description, "timestamp", duration_ms, status, token_usage, context, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        row.id,
        row.userId,
        row.sessionId,
        row.activityType,
        row.description,
        row.timestamp,
        row.durationMs,
        row.status,
        JSON.stringify(row.tokenUsage),
        JSON.stringify(row.context),
        JSON.stringify(row.metadata),
      ],
    )
  }
  return (rows.length / (performance.now() - started)) * 1000
}

// ---------------------------------------------------------------- raw binary COPY, no SDK

const PG_EPOCH_MS = 946_684_800_000
/** A competent hand-written binary COPY encoder: one preallocated Buffer, Node's own UTF-8 writer. */
function encodeRaw(rows: Activity[]): Buffer {
  let buffer = Buffer.allocUnsafe(rows.length * 1024)
  let offset = 0
  const ensure = (bytes: number) => {
    if (offset + bytes <= buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, offset + bytes))
    buffer.copy(grown, 0, 0, offset)
    buffer = grown
  }
  const text = (value: string | undefined) => {
    if (value === undefined) {
      ensure(4)
      offset = buffer.writeInt32BE(-1, offset)
      return
    }
    ensure(4 + value.length * 3)
    const written = buffer.write(value, offset + 4, 'utf8')
    buffer.writeInt32BE(written, offset)
    offset += 4 + written
  }
  const jsonb = (value: unknown) => {
    const json = JSON.stringify(value)
    ensure(5 + json.length * 3)
    buffer[offset + 4] = 1
    const written = buffer.write(json, offset + 5, 'utf8')
    buffer.writeInt32BE(written + 1, offset)
    offset += 5 + written
  }
  const time = (ms: number) => {
    ensure(12)
    offset = buffer.writeInt32BE(8, offset)
    offset = buffer.writeBigInt64BE(BigInt(ms - PG_EPOCH_MS) * 1000n, offset)
  }
  for (const row of rows) {
    ensure(26)
    offset = buffer.writeInt16BE(12, offset)
    offset = buffer.writeInt32BE(16, offset)
    offset += buffer.write(row.id.replaceAll('-', ''), offset, 'hex')
    text(row.userId)
    text(row.sessionId)
    text(row.activityType)
    text(row.description)
    time(Date.parse(row.timestamp))
    ensure(12)
    offset = buffer.writeInt32BE(8, offset)
    offset = buffer.writeDoubleBE(row.durationMs!, offset)
    text(row.status)
    jsonb(row.tokenUsage)
    jsonb(row.context)
    jsonb(row.metadata)
    time(Date.now())
  }
  return buffer.subarray(0, offset)
}

async function rawCopy(name: string, rows: Activity[]): Promise<number> {
  const client = await pool.connect()
  try {
    const started = performance.now()
    const stream = client.query(
      copyFrom(
        `COPY "${SCHEMA}"."${name}" (id, user_id, session_id, activity_type, description, "timestamp", duration_ms, status, token_usage, context, metadata, received_at) FROM STDIN WITH (FORMAT binary)`,
      ),
    )
    const done = once(stream, 'finish')
    stream.write(Buffer.from('PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0', 'latin1'))
    for (let offset = 0; offset < rows.length; offset += BATCH) {
      if (!stream.write(encodeRaw(rows.slice(offset, offset + BATCH)))) await once(stream, 'drain')
    }
    stream.end(Buffer.from([0xff, 0xff]))
    await done
    return (rows.length / (performance.now() - started)) * 1000
  } finally {
    client.release()
  }
}

/**
 * The idempotent path the issue measured, hand-written: every batch is COPYed into a temporary
 * table and moved with INSERT … ON CONFLICT DO NOTHING, in one transaction. The sink takes this path
 * only for a batch that meets an id already stored; this row shows what taking it always would cost.
 */
async function stagedCopy(name: string, rows: Activity[]): Promise<number> {
  const client = await pool.connect()
  const columns =
    'id, user_id, session_id, activity_type, description, "timestamp", duration_ms, status, token_usage, context, metadata, received_at'
  try {
    const started = performance.now()
    for (let offset = 0; offset < rows.length; offset += BATCH) {
      await client.query('BEGIN')
      await client.query(`CREATE TEMP TABLE staging (LIKE "${SCHEMA}"."${name}") ON COMMIT DROP`)
      const stream = client.query(copyFrom(`COPY staging (${columns}) FROM STDIN WITH (FORMAT binary)`))
      const done = once(stream, 'finish')
      stream.write(Buffer.from('PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0', 'latin1'))
      stream.write(encodeRaw(rows.slice(offset, offset + BATCH)))
      stream.end(Buffer.from([0xff, 0xff]))
      await done
      await client.query(`INSERT INTO "${SCHEMA}"."${name}" (${columns}) SELECT ${columns} FROM staging ON CONFLICT (id) DO NOTHING`)
      await client.query('COMMIT')
    }
    return (rows.length / (performance.now() - started)) * 1000
  } finally {
    client.release()
  }
}

// ---------------------------------------------------------------- story 5's existing table

const STORY_USERS = 5000
const STORY_ROWS = 100_000

/** Story 5's tables, as the app created them: users, and its activity log with a JSONB details column. */
async function storyTables(suffix: string): Promise<string> {
  const table = `activity_${suffix}`
  await pool.query(`CREATE TABLE "${SCHEMA}"."users_${suffix}" (id SERIAL PRIMARY KEY, privy_user_id text)`)
  await pool.query(`INSERT INTO "${SCHEMA}"."users_${suffix}" (privy_user_id) SELECT 'did:privy:' || n FROM generate_series(1, ${STORY_USERS}) AS n`)
  await pool.query(`CREATE TABLE "${SCHEMA}"."${table}" (
    id SERIAL PRIMARY KEY,
    user_id INTEGER REFERENCES "${SCHEMA}"."users_${suffix}"(id),
    action VARCHAR(100) NOT NULL,
    details JSONB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
  )`)
  return table
}

async function dropStoryTables(suffix: string): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS "${SCHEMA}"."activity_${suffix}", "${SCHEMA}"."users_${suffix}"`)
  await pool.query(`DROP TABLE IF EXISTS "${SCHEMA}"."activity_${suffix}_identities", "${SCHEMA}"."activity_${suffix}_deletions"`)
}

/** Chat completions as story 5 logs them: user ids the app's integer keys, as strings. */
function storyActivities(count: number): Activity[] {
  return activities(count).map((activity, index) => ({
    ...activity,
    userId: String(1 + (index % STORY_USERS)),
    activityType: 'chat_completion',
    tokenUsage: { total: 150 + (index % 100), model: 'openai/gpt-4' },
    metadata: { privy_user_id: `did:privy:${1 + (index % STORY_USERS)}` },
  }))
}

/** One INSERT per activity into the app's table: what its hand-written logging did. */
async function naiveStoryLoop(table: string, rows: Activity[]): Promise<number> {
  const started = performance.now()
  for (const row of rows) {
    await pool.query(`INSERT INTO "${SCHEMA}"."${table}" (user_id, action, details, created_at) VALUES ($1, $2, $3, $4)`, [
      Number(row.userId),
      row.activityType,
      JSON.stringify({ model: row.tokenUsage?.model, tokens_used: row.tokenUsage?.total, session_id: row.sessionId, ...row.metadata }),
      row.timestamp,
    ])
  }
  return (rows.length / (performance.now() - started)) * 1000
}

async function storySink(table: string): Promise<PostgresStore> {
  const store = postgresStore({
    client: pool,
    schema: SCHEMA,
    table,
    mapping: {
      fields: {
        userId: { column: 'user_id', write: (id) => Number(id), read: (id) => String(id) },
        activityType: 'action',
        timestamp: 'created_at',
        sessionId: { key: 'session_id' },
        'tokenUsage.total': { key: 'tokens_used' },
        'tokenUsage.model': { key: 'model' },
        id: { key: 'activity_id' },
        receivedAt: false,
      },
      json: 'details',
    },
  })
  await store.migrate()
  return store
}

// ---------------------------------------------------------------- reads over 1M rows

async function seedListTable(): Promise<{ store: PostgresStore; seededMs: number | null }> {
  const store = postgresStore({ client: pool, schema: SCHEMA, table: 'list_1m' })
  await store.migrate()
  const { rows } = await pool.query(`SELECT count(*)::int AS count FROM "${SCHEMA}".list_1m`)
  if (rows[0].count === LIST_ROWS) return { store, seededMs: null }
  const started = performance.now()
  await pool.query(`TRUNCATE "${SCHEMA}".list_1m`)
  await pool.query(
    `INSERT INTO "${SCHEMA}".list_1m (id, user_id, session_id, activity_type, description, "timestamp", received_at,
       duration_ms, status, token_usage, context, metadata)
     SELECT gen_random_uuid(), 'user-' || (i % ${LIST_USERS}), 'session-' || (i % 20000),
       (ARRAY['resume_generation', 'job_match', 'chat_completion', 'page_view'])[1 + i % 4],
       'Tailored resume for Amazon job', timestamptz '2025-01-01' + i * interval '7 seconds', now(),
       3200 + i % 1000, 'success',
       jsonb_build_object('input', 900 + i % 100, 'output', 520, 'total', 1420 + i % 100, 'model', 'gpt-4o-mini'),
       jsonb_build_object('page', '/resume/tailor', 'ip', '192.168.1.10', 'userAgent', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)'),
       jsonb_build_object('jobTitle', 'Data Engineer', 'resumeLength', '2 pages', 'promptType', 'tailor')
     FROM generate_series(1, ${LIST_ROWS}) AS i`,
  )
  await pool.query(`VACUUM ANALYZE "${SCHEMA}".list_1m`)
  return { store, seededMs: performance.now() - started }
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!
}

function summary(samples: number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b)
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) }
}

async function timeList(store: PostgresStore) {
  const firstPage: number[] = []
  const userPages: number[] = []
  const userWalks: number[] = []
  const allPages: number[] = []
  const allWalks: number[] = []
  // Warm the cache and the connections, as a running server would be.
  for (let index = 0; index < 50; index++) await store.list({ userId: `user-${index}` })
  const rawFirstPage: number[] = []
  for (let index = 0; index < 300; index++) {
    const userId = `user-${(index * 7919) % LIST_USERS}`
    let started = performance.now()
    await store.list({ userId, limit: PAGE })
    firstPage.push(performance.now() - started)
    started = performance.now()
    await pool.query(
      `SELECT * FROM "${SCHEMA}".list_1m WHERE user_id = $1 ORDER BY "timestamp" DESC, id DESC LIMIT ${PAGE + 1}`,
      [userId],
    )
    rawFirstPage.push(performance.now() - started)
  }
  const walk = async (filter: { userId?: string }, pages: number[], walks: number[]) => {
    const walkStarted = performance.now()
    let cursor: string | undefined
    for (let page = 0; page < WALK_PAGES; page++) {
      const started = performance.now()
      const result = await store.list({ ...filter, limit: PAGE, ...(cursor ? { cursor } : {}) })
      pages.push(performance.now() - started)
      if (result.items.length !== PAGE) throw new Error(`page ${page} held ${result.items.length} rows`)
      cursor = result.nextCursor
    }
    walks.push(performance.now() - walkStarted)
  }
  for (let index = 0; index < 50; index++) await walk({ userId: `user-${(index * 104729) % LIST_USERS}` }, userPages, userWalks)
  for (let index = 0; index < 50; index++) await walk({}, allPages, allWalks)
  return {
    rawFirstPage: summary(rawFirstPage),
    firstPage: summary(firstPage),
    userPages: summary(userPages),
    userWalks: summary(userWalks),
    allPages: summary(allPages),
    allWalks: summary(allWalks),
  }
}

// ---------------------------------------------------------------- run

const format = (value: number) => Math.round(value).toLocaleString('en-US')
const ms = (value: number) => value.toFixed(2)

await pool.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`)
const run = randomUUID().slice(0, 8)
const rows = activities(WRITE_ROWS)
const rowBytes = encodeRaw(rows.slice(0, 1000)).length / 1000

const naiveTable = `naive_${run}`
await freshTable(naiveTable)
const naive = await naiveLoop(naiveTable, rows.slice(0, NAIVE_ROWS))
await dropTable(naiveTable)

// Raw COPY and the sink take turns, twice, each keeping its best: on a shared machine a burst of
// someone else's load would otherwise decide the ratio.
let copy = 0
let sink = 0
let retry = 0
for (let round = 0; round < 2; round++) {
  const copyTable = `copy_${run}_${round}`
  await freshTable(copyTable)
  copy = Math.max(copy, await rawCopy(copyTable, rows))
  if ((await countRows(copyTable)) !== WRITE_ROWS) throw new Error('raw COPY lost rows')
  await dropTable(copyTable)

  const sinkTable = `sink_${run}_${round}`
  const sinkStore = await freshTable(sinkTable)
  sink = Math.max(sink, await timeSink(sinkStore, rows))
  if ((await countRows(sinkTable)) !== WRITE_ROWS) throw new Error('the sink lost rows')
  if (round === 0) {
    retry = await timeSink(sinkStore, rows)
    if ((await countRows(sinkTable)) !== WRITE_ROWS) throw new Error('a retried batch made duplicates')
  }
  await dropTable(sinkTable)
}

const stagedTable = `staged_${run}`
await freshTable(stagedTable)
const staged = await stagedCopy(stagedTable, rows)
if ((await countRows(stagedTable)) !== WRITE_ROWS) throw new Error('the staged COPY lost rows')
await dropTable(stagedTable)

const quietTable = `quiet_${run}`
await freshTable(quietTable)
const quietStore = postgresStore({ client: pool, schema: SCHEMA, table: quietTable, notify: false })
const quiet = await timeSink(quietStore, rows)
if ((await countRows(quietTable)) !== WRITE_ROWS) throw new Error('the notify: false sink lost rows')
await dropTable(quietTable)

// Story 5: the app's own table. Both paths write into the same kind of table, in this run.
const storyRows = storyActivities(STORY_ROWS)
const naiveStoryTable = await storyTables(`naive_${run}`)
const naiveStory = await naiveStoryLoop(naiveStoryTable, storyRows.slice(0, NAIVE_ROWS))
await dropStoryTables(`naive_${run}`)
const mappedTable = await storyTables(`mapped_${run}`)
const mapped = await timeSink(await storySink(mappedTable), storyRows)
if ((await countRows(mappedTable)) !== STORY_ROWS) throw new Error('the mapped sink lost rows')
const mappedRetry = await timeSink(await storySink(mappedTable), storyRows.slice(0, 20_000))
if ((await countRows(mappedTable)) !== STORY_ROWS) throw new Error('a retried batch made duplicates in the mapped table')
await dropStoryTables(`mapped_${run}`)

const sql = postgres(DATABASE_URL, { max: 2, onnotice: () => {} })
const unnestTable = `unnest_${run}`
const unnestStore = await freshTable(unnestTable, sql)
const unnest = await timeSink(unnestStore, activities(WRITE_ROWS))
if ((await countRows(unnestTable)) !== WRITE_ROWS) throw new Error('the postgres.js sink lost rows')
await dropTable(unnestTable)
await sql.end()

const { store: listStore, seededMs } = await seedListTable()
const reads = await timeList(listStore)
await pool.end()

console.log(`Rows of ~${Math.round(rowBytes)} bytes (binary COPY size), PostgreSQL at ${new URL(DATABASE_URL).host}.\n`)
console.log('| write path | rows | rows/s | vs naive | vs raw COPY |')
console.log('| --- | ---: | ---: | ---: | ---: |')
const line = (name: string, count: number, rate: number) =>
  console.log(`| ${name} | ${format(count)} | ${format(rate)} | ${(rate / naive).toFixed(1)}× | ${((rate / copy) * 100).toFixed(0)}% |`)
line('naive loop: one INSERT per event (node-postgres)', NAIVE_ROWS, naive)
line('raw binary COPY, one statement, no SDK (pg-copy-streams; best of 2)', WRITE_ROWS, copy)
line('binary COPY into a temp table + INSERT … ON CONFLICT DO NOTHING, per batch of 1000 (hand-written)', WRITE_ROWS, staged)
line('**store.sink** over node-postgres (binary COPY, batches of 1000; best of 2)', WRITE_ROWS, sink)
line('store.sink re-sending rows it holds (COPY → 23505 → staged INSERT … ON CONFLICT)', WRITE_ROWS, retry)
line('store.sink over postgres.js (INSERT … SELECT FROM unnest, batches of 1000)', WRITE_ROWS, unnest)
line('store.sink with notify: false (no NOTIFY of the ids written)', WRITE_ROWS, quiet)
console.log(
  `\nstore.sink: ${(sink / naive).toFixed(1)}× the naive loop (target ≥ 10×), ${((sink / copy) * 100).toFixed(0)}% of raw binary COPY (target ≥ 70%); the default NOTIFY costs ${(((quiet - sink) / quiet) * 100).toFixed(0)}% of notify: false.\n`,
)
console.log(`| story 5's existing table (\`activity\`, JSONB details) | rows | rows/s | vs one INSERT per activity |`)
console.log('| --- | ---: | ---: | ---: |')
console.log(`| one INSERT per activity into the app's table (node-postgres) | ${format(NAIVE_ROWS)} | ${format(naiveStory)} | 1.0× |`)
console.log(`| **store.sink** with \`mapping\` (INSERT … SELECT FROM unnest … ON CONFLICT on the id key, batches of 1000) | ${format(STORY_ROWS)} | ${format(mapped)} | ${(mapped / naiveStory).toFixed(1)}× |`)
console.log(`| the same, re-sending 20k rows it holds (every batch a retry) | ${format(20_000)} | ${format(mappedRetry)} | ${(mappedRetry / naiveStory).toFixed(1)}× |`)
console.log(`\nExisting-table path: ${(mapped / naiveStory).toFixed(1)}× one INSERT per activity (target ≥ 10×).\n`)
console.log(`| list over ${format(LIST_ROWS)} rows (${LIST_USERS} users, pages of ${PAGE}) | p50 ms | p99 ms |`)
console.log('| --- | ---: | ---: |')
console.log(`| one user's first page (300 users) | ${ms(reads.firstPage.p50)} | ${ms(reads.firstPage.p99)} |`)
console.log(`| the same page as a bare \`SELECT *\` through node-postgres (no SDK) | ${ms(reads.rawFirstPage.p50)} | ${ms(reads.rawFirstPage.p99)} |`)
console.log(`| one page of a user's ${WALK_PAGES}-page keyset walk (50 walks) | ${ms(reads.userPages.p50)} | ${ms(reads.userPages.p99)} |`)
console.log(`| a user's whole ${WALK_PAGES}-page walk | ${ms(reads.userWalks.p50)} | ${ms(reads.userWalks.p99)} |`)
console.log(`| one page of a ${WALK_PAGES}-page walk over all users (50 walks) | ${ms(reads.allPages.p50)} | ${ms(reads.allPages.p99)} |`)
console.log(`| a whole ${WALK_PAGES}-page walk over all users | ${ms(reads.allWalks.p50)} | ${ms(reads.allWalks.p99)} |`)
console.log(seededMs === null ? '\n(1M-row table reused from an earlier run.)' : `\n(Seeded the 1M-row table in ${(seededMs / 1000).toFixed(1)} s.)`)
