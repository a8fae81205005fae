import type { PostgresAdapter, PostgresConnection } from './client-adapter'
import { deleteWhere } from './identity'
import { lockForMigration, tableStatements } from './migrations'
import { EXPIRED_ROW } from './retention'
import { quoteIdentifier, type SqlNames } from './sql-names'

/**
 * Monthly partitioning of the SDK's own table (`partitioning: 'monthly'`): one partition per
 * calendar month (UTC) of `timestamp`, named `<table>_pYYYY_MM`, plus a default partition
 * `<table>_pdefault` for rows of months that have none (far past, far future).
 *
 * Why `timestamp` is the partition key: PostgreSQL requires every unique index of a partitioned
 * table to include the partition key, so the primary key becomes `(id, timestamp)`. Idempotency
 * by id then holds only if every delivery of one activity carries the same key: `timestamp` is set
 * once, when the activity is tracked, and travels with its id through every retry; `received_at`
 * is stamped anew by each delivery, so `(id, received_at)` would let a retried batch in twice.
 */

/** Monthly partitions kept ready ahead of the current month, so that writes never wait for one. */
export const MONTHS_AHEAD = 3
/** How far back a conversion gives months that hold rows a partition of their own; older rows go to the default partition. */
const MONTHS_BACK = 120
/**
 * How long partition maintenance waits for a table lock before giving up until the next run: an
 * ACCESS EXCLUSIVE request queued behind a long read would hold up every statement queued behind it.
 */
const LOCK_TIMEOUT = '3s'
/**
 * On monthly partitions an activity received more than `maxAgeDays` plus this long ago is deleted
 * row by row whatever its `timestamp`, in milliseconds: 31 days, the longest a month partition
 * keeps rows past `maxAgeDays`, so this rule finds only rows whose `timestamp` is ahead of when
 * they were received (a skewed or forged clock), never the bulk a partition drop removes.
 */
export const RECEIVED_GRACE_MS = 31 * 86_400_000

/** One calendar month, UTC. */
interface Month {
  startMs: number
  endMs: number
  /** `YYYY_MM`, the end of its partition's name. */
  suffix: string
}

function month(year: number, monthIndex: number): Month {
  const start = new Date(Date.UTC(year, monthIndex, 1))
  const suffix = `${String(start.getUTCFullYear()).padStart(4, '0')}_${String(start.getUTCMonth() + 1).padStart(2, '0')}`
  return { startMs: start.getTime(), endMs: Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1), suffix }
}

function monthOf(ms: number, offset = 0): Month {
  const date = new Date(ms)
  return month(date.getUTCFullYear(), date.getUTCMonth() + offset)
}

const PARTITION_SUFFIX = /_p([0-9]{4})_([0-9]{2})$/

function partitionName(names: SqlNames, suffix: string): string {
  return `${names.quotedSchema}.${quoteIdentifier(`${names.table}_p${suffix}`)}`
}

/** The default partition of a partitioned table. */
export function defaultPartition(names: SqlNames): string {
  return partitionName(names, 'default')
}

const literal = (ms: number) => `'${new Date(ms).toISOString()}'`

/** What the store's table is: partitioned, a plain table, or not there yet. */
export async function tableKind(connection: PostgresConnection, names: SqlNames): Promise<'partitioned' | 'plain' | 'missing'> {
  const rows = await connection.query(
    `SELECT c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [names.schema, names.table],
  )
  const kind = rows[0]?.kind
  return kind === undefined ? 'missing' : kind === 'p' ? 'partitioned' : 'plain'
}

async function databaseNow(connection: PostgresConnection): Promise<number> {
  const rows = await connection.query(`SELECT (extract(epoch from now()) * 1000)::float8 AS now`)
  return Number(rows[0]!.now)
}

/** The monthly partitions of the table this package made (by their names), by suffix. */
async function monthlyPartitions(connection: PostgresConnection, names: SqlNames): Promise<Map<string, Month>> {
  const rows = await connection.query(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1)`,
    [names.qualifiedTable],
  )
  const months = new Map<string, Month>()
  for (const row of rows) {
    const name = String(row.name)
    const match = PARTITION_SUFFIX.exec(name)
    if (!match || name !== `${names.table}_p${match[1]}_${match[2]}`) continue
    const found = month(Number(match[1]), Number(match[2]) - 1)
    months.set(found.suffix, found)
  }
  return months
}

async function hasDefaultPartition(connection: PostgresConnection, names: SqlNames): Promise<boolean> {
  const rows = await connection.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [defaultPartition(names)])
  return rows[0]?.present === true
}

/** The table's columns a write fills (every one but generated ones), in order. */
async function writableColumns(connection: PostgresConnection, table: string): Promise<string> {
  const rows = await connection.query(
    `SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) AS columns FROM pg_attribute
WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''`,
    [table],
  )
  return String(rows[0]!.columns)
}

/**
 * Gives `target` its partition: created empty, or, when rows of that month already wait in the
 * default partition (tracked before the month had one), built from them and attached, in the
 * caller's transaction.
 */
async function createMonth(connection: PostgresConnection, names: SqlNames, target: Month): Promise<void> {
  const partition = partitionName(names, target.suffix)
  const bounds = `FROM (${literal(target.startMs)}) TO (${literal(target.endMs)})`
  const fallback = defaultPartition(names)
  const waiting = (await hasDefaultPartition(connection, names))
    ? await connection.query(`SELECT 1 FROM ${fallback} WHERE "timestamp" >= $1::timestamptz AND "timestamp" < $2::timestamptz LIMIT 1`, [
        new Date(target.startMs).toISOString(),
        new Date(target.endMs).toISOString(),
      ])
    : []
  if (waiting.length === 0) {
    await connection.query(`CREATE TABLE IF NOT EXISTS ${partition} PARTITION OF ${names.qualifiedTable} FOR VALUES ${bounds}`)
    return
  }
  await connection.query(`CREATE TABLE ${partition} (LIKE ${names.qualifiedTable} INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS)`)
  const columns = await writableColumns(connection, names.qualifiedTable)
  await connection.query(
    `WITH moved AS (DELETE FROM ${fallback} WHERE "timestamp" >= $1::timestamptz AND "timestamp" < $2::timestamptz RETURNING ${columns})
INSERT INTO ${partition} (${columns}) SELECT ${columns} FROM moved`,
    [new Date(target.startMs).toISOString(), new Date(target.endMs).toISOString()],
  )
  await connection.query(`ALTER TABLE ${names.qualifiedTable} ATTACH PARTITION ${partition} FOR VALUES ${bounds}`)
}

/**
 * Replaces the store's plain table by a partitioned one holding the same rows, in the caller's
 * transaction (which holds the migration lock): the table is renamed, its indexes and primary key
 * dropped (their names are the new table's), the new table created like it and partitioned by
 * `timestamp`, with a partition for every month that holds rows (back to {@link MONTHS_BACK}
 * months) and for the coming ones, the rows copied, the old table dropped, and the primary key
 * `(id, timestamp)` and the indexes built. Writers wait meanwhile (the table is locked).
 */
export async function convertToMonthly(connection: PostgresConnection, names: SqlNames): Promise<void> {
  const oldName = `${names.table}_unpartitioned`
  const old = `${names.quotedSchema}.${quoteIdentifier(oldName)}`
  await connection.query(`LOCK TABLE ${names.qualifiedTable} IN ACCESS EXCLUSIVE MODE`)
  await connection.query(`ALTER TABLE ${names.qualifiedTable} RENAME TO ${quoteIdentifier(oldName)}`)
  for (const index of [names.userTimeIndex, names.timeIndex, names.receivedIndex, names.anonymousIndex]) {
    await connection.query(`DROP INDEX IF EXISTS ${names.quotedSchema}.${index}`)
  }
  const keys = await connection.query(`SELECT conname FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p'`, [old])
  for (const key of keys) await connection.query(`ALTER TABLE ${old} DROP CONSTRAINT ${quoteIdentifier(String(key.conname))}`)
  await connection.query(
    `CREATE TABLE ${names.qualifiedTable} (LIKE ${old} INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS) PARTITION BY RANGE ("timestamp")`,
  )
  const now = await databaseNow(connection)
  const first = monthOf(now, -MONTHS_BACK)
  const held = await connection.query(
    `SELECT DISTINCT (extract(epoch from date_trunc('month', "timestamp", 'UTC')) * 1000)::float8 AS start FROM ${old}
WHERE "timestamp" >= $1::timestamptz AND "timestamp" < $2::timestamptz`,
    [new Date(first.startMs).toISOString(), new Date(monthOf(now, MONTHS_AHEAD).endMs).toISOString()],
  )
  const months = new Map<string, Month>()
  for (const row of held) {
    const found = monthOf(Number(row.start))
    months.set(found.suffix, found)
  }
  for (let offset = 0; offset <= MONTHS_AHEAD; offset++) {
    const coming = monthOf(now, offset)
    months.set(coming.suffix, coming)
  }
  for (const target of months.values()) {
    await connection.query(
      `CREATE TABLE ${partitionName(names, target.suffix)} PARTITION OF ${names.qualifiedTable} FOR VALUES FROM (${literal(target.startMs)}) TO (${literal(target.endMs)})`,
    )
  }
  await connection.query(`CREATE TABLE ${defaultPartition(names)} PARTITION OF ${names.qualifiedTable} DEFAULT`)
  const columns = await writableColumns(connection, old)
  await connection.query(`INSERT INTO ${names.qualifiedTable} (${columns}) SELECT ${columns} FROM ${old}`)
  await connection.query(`DROP TABLE ${old}`)
  // Built once the rows are in: faster than keeping them up to date row by row.
  await connection.query(`ALTER TABLE ${names.qualifiedTable} ADD PRIMARY KEY (id, "timestamp")`)
  for (const statement of tableStatements(names)) await connection.query(statement)
}

/**
 * Creates the partitions of the current month and the {@link MONTHS_AHEAD} next ones that are
 * missing, each in its own short transaction that gives up on a busy table after
 * {@link LOCK_TIMEOUT} (the next run tries again).
 */
export async function ensureComingMonths(adapter: PostgresAdapter, connection: PostgresConnection, names: SqlNames, signal?: AbortSignal): Promise<void> {
  const now = await databaseNow(connection)
  const existing = await monthlyPartitions(connection, names)
  for (let offset = 0; offset <= MONTHS_AHEAD; offset++) {
    const target = monthOf(now, offset)
    if (existing.has(target.suffix) || signal?.aborted) continue
    await adapter.transaction(async (transaction) => {
      await transaction.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`)
      // migrate() in another process may be creating it right now.
      await lockForMigration(transaction, names)
      await createMonth(transaction, names, target)
    })
  }
}

/** In `migrate()`'s transaction: the coming months' partitions, without a lock timeout (a migration may wait). */
export async function createComingMonths(connection: PostgresConnection, names: SqlNames): Promise<void> {
  const now = await databaseNow(connection)
  const existing = await monthlyPartitions(connection, names)
  for (let offset = 0; offset <= MONTHS_AHEAD; offset++) {
    const target = monthOf(now, offset)
    if (!existing.has(target.suffix)) await createMonth(connection, names, target)
  }
}

/**
 * Expires the activities of a partitioned table; returns how many went. Monthly partitions whose
 * whole month is older than `maxAgeMs` are counted and dropped (each drop in its own transaction,
 * giving up on a busy table after {@link LOCK_TIMEOUT}); expired rows of the default partition,
 * and rows received more than `maxAgeMs` + {@link RECEIVED_GRACE_MS} ago anywhere, are deleted in
 * batches.
 */
export async function expirePartitioned(
  adapter: PostgresAdapter,
  connection: PostgresConnection,
  names: SqlNames,
  maxAgeMs: number,
  signal?: AbortSignal,
): Promise<number> {
  await ensureComingMonths(adapter, connection, names, signal)
  const now = await databaseNow(connection)
  // A month is expired once its end is older than maxAgeMs: it ends at or before the start of the month of the cutoff.
  const boundary = monthOf(now - maxAgeMs).startMs
  let deleted = 0
  for (const expired of (await monthlyPartitions(connection, names)).values()) {
    if (signal?.aborted) return deleted
    if (expired.endMs > boundary) continue
    const partition = partitionName(names, expired.suffix)
    // Counted first, outside the drop's transaction: a count under its lock would hold every writer up.
    const counted = await connection.query(`SELECT count(*)::float8 AS count FROM ${partition}`)
    await adapter.transaction(async (transaction) => {
      await transaction.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`)
      await transaction.query(`DROP TABLE IF EXISTS ${partition}`)
    })
    deleted += Number(counted[0]?.count ?? 0)
  }
  if (await hasDefaultPartition(connection, names)) {
    deleted += await deleteWhere(
      connection,
      { table: defaultPartition(names), rowKey: 'id' },
      EXPIRED_ROW,
      [maxAgeMs],
      signal,
    )
  }
  deleted += await deleteWhere(
    connection,
    { table: names.qualifiedTable, rowKey: 'id' },
    `received_at < now() - $1::float8 * interval '1 millisecond'`,
    [maxAgeMs + RECEIVED_GRACE_MS],
    signal,
  )
  return deleted
}
