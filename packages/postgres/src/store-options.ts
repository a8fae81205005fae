import { MAX_TIMER_MS, resolveRetention, type RetentionOptions } from '@usertracking/core'
import type { PostgresClient } from './client-adapter'
import { PostgresStoreError } from './errors'
import type { ActivityMapping } from './mapping'

/** Options of `postgresStore`. Every default is in {@link POSTGRES_STORE_DEFAULTS}. */
export interface PostgresStoreOptions {
  /**
   * The database: a node-postgres `Pool` (recommended) or connected `Client`, a postgres.js `sql`,
   * or a PGlite instance. The store never closes it; it belongs to the app.
   */
  client: PostgresClient
  /** The table activities live in. @default 'user_activities' */
  table?: string
  /** The schema of that table, created by `migrate()` when missing. @default 'public' */
  schema?: string
  /**
   * Write into, and read from, a table the app already has, with its own columns, instead of the
   * table `migrate()` creates. See {@link ActivityMapping} and docs/adopting-an-existing-schema.md.
   */
  mapping?: ActivityMapping
  /**
   * How long after `deleteActivities` the sink refuses activities of that person tracked before the
   * deletion (a queued or retried delivery arriving late), in milliseconds. @default 2592000000
   * (30 days, longer than any tracker's retry window)
   */
  tombstoneMs?: number
  /**
   * Bound of every statement, connection attempt and transaction of the sink and the reads, in
   * milliseconds, from 1 to 2147483647 (the longest a timer keeps), measured in this process (so it
   * also catches a stalled network, which a server-side `statement_timeout` cannot). Past it the
   * write answers `retryable` (the server: 503), the statement is cancelled on the server
   * (node-postgres and postgres.js send a cancel request; PGlite, in this process, cannot be
   * interrupted), and a node-postgres pooled connection is destroyed. @default 30000 (far above any
   * batch write or indexed read, short enough that a stalled database does not hold a request, or
   * the sink, for long)
   */
  queryTimeoutMs?: number
  /**
   * Bound of each statement of `migrate()`, in milliseconds (1 to 2147483647): building an index on
   * a large existing table legitimately takes minutes. @default 600000 (10 minutes)
   */
  migrationTimeoutMs?: number
  /**
   * Announce every write with `NOTIFY` (the ids it stored, once it has committed, coalesced with
   * those of other writes committing meanwhile, without delaying the write's answer), so that
   * `subscribe` on any store over this table, in any process, hears it; best effort, see
   * docs/postgres.md. Turn it off when no process subscribes: it saves a statement (and a pooled
   * connection while it runs) per burst of writes. @default true
   */
  notify?: boolean
  /**
   * Delete activities older than `maxAgeDays` (by the earlier of `timestamp` and `receivedAt`),
   * identity links older than that and expired tombstones: hourly by a background job that runs on
   * one process at a time (a PostgreSQL advisory lock) and deletes in batches, or through
   * `store.expireActivities()` from your own cron. On monthly partitions whole months are dropped
   * instead; see `partitioning` and docs/postgres.md. @default undefined — every row is kept.
   */
  retention?: RetentionOptions
  /**
   * `'monthly'`: `migrate()` makes the table (or converts the existing one, rows and all) one
   * partition per calendar month (UTC) of `timestamp`, keeps partitions ready three months ahead,
   * and retention drops a whole month once it is older than `maxAgeDays` instead of deleting its
   * rows one by one. The primary key becomes `(id, timestamp)`; idempotency by id still holds (a
   * retry carries the same `timestamp`). Not with `mapping`: the SDK never restructures an app's
   * table. @default undefined — one plain table
   */
  partitioning?: 'monthly'
  /**
   * Keep the store's write statements prepared on each connection, so PostgreSQL parses and plans
   * them once per connection instead of on every write: with node-postgres they are sent as named
   * statements (`usertracking_` and a hash of the text), with postgres.js with `{ prepare: true }`
   * (which its own `prepare: false` still turns off). On single-activity ingest over node-postgres
   * this served a median of 42% more requests / s (docs/benchmarks.md). Reads are never prepared: their text
   * varies with the query. PGlite ignores it.
   *
   * Off by default because prepared statements belong to a connection: behind PgBouncer (or another
   * pooler) in transaction or statement mode, a statement prepared on one server connection is
   * missing on the next (`prepared statement "…" does not exist`) unless the pooler tracks them
   * itself (PgBouncer 1.21+ with `max_prepared_statements` above 0). Turn it on for direct
   * connections, session pooling, or such a pooler. @default false
   */
  prepareStatements?: boolean
  /**
   * Receives warnings: a LISTEN connection lost and re-established, a listener this store added to
   * keep the process alive, a subscriber that threw, a retention run that failed (it runs again at
   * the next interval). @default `process.emitWarning`
   */
  onWarning?: (warning: Error) => void
}

/** The defaults of {@link PostgresStoreOptions}. */
export const POSTGRES_STORE_DEFAULTS = {
  table: 'user_activities',
  schema: 'public',
  tombstoneMs: 2_592_000_000,
  queryTimeoutMs: 30_000,
  migrationTimeoutMs: 600_000,
  notify: true,
  prepareStatements: false,
} as const

function emitWarning(warning: Error): void {
  if (typeof process !== 'undefined' && typeof process.emitWarning === 'function') process.emitWarning(warning)
}

function positive(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new PostgresStoreError(`options.${field} must be a positive number of milliseconds.`)
  }
  return value
}

function timerBound(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value >= 1 && value <= MAX_TIMER_MS)) {
    throw new PostgresStoreError(`options.${field} must be a number of milliseconds from 1 to ${MAX_TIMER_MS} (about 24.8 days), not ${String(value)}.`)
  }
  return value
}

/** The options with their defaults, checked; errors name the field. */
export function resolveOptions(options: PostgresStoreOptions) {
  if (typeof options !== 'object' || options === null) throw new PostgresStoreError('postgresStore() needs an options object with a client.')
  const onWarning = options.onWarning ?? emitWarning
  if (typeof onWarning !== 'function') throw new PostgresStoreError('options.onWarning must be a function.')
  if (options.notify !== undefined && typeof options.notify !== 'boolean') throw new PostgresStoreError('options.notify must be true or false.')
  if (options.prepareStatements !== undefined && typeof options.prepareStatements !== 'boolean') {
    throw new PostgresStoreError('options.prepareStatements must be true or false.')
  }
  if (options.partitioning !== undefined && options.partitioning !== 'monthly') {
    throw new PostgresStoreError(`options.partitioning must be 'monthly' or left out, not ${JSON.stringify(options.partitioning)}.`)
  }
  if (options.partitioning !== undefined && options.mapping !== undefined) {
    throw new PostgresStoreError('options.partitioning cannot be combined with options.mapping: the store never restructures a table the app owns.')
  }
  let retention
  try {
    retention = resolveRetention(options.retention, 'postgres')
  } catch (error) {
    throw new PostgresStoreError((error as Error).message.replace('[usertracking] [postgres] ', ''))
  }
  return {
    table: options.table ?? POSTGRES_STORE_DEFAULTS.table,
    schema: options.schema ?? POSTGRES_STORE_DEFAULTS.schema,
    tombstoneMs: positive(options.tombstoneMs, 'tombstoneMs', POSTGRES_STORE_DEFAULTS.tombstoneMs),
    queryTimeoutMs: timerBound(options.queryTimeoutMs, 'queryTimeoutMs', POSTGRES_STORE_DEFAULTS.queryTimeoutMs),
    migrationTimeoutMs: timerBound(options.migrationTimeoutMs, 'migrationTimeoutMs', POSTGRES_STORE_DEFAULTS.migrationTimeoutMs),
    notify: options.notify ?? POSTGRES_STORE_DEFAULTS.notify,
    prepareStatements: options.prepareStatements ?? POSTGRES_STORE_DEFAULTS.prepareStatements,
    retention,
    partitioning: options.partitioning,
    warn(message: string, cause?: unknown): void {
      try {
        onWarning(new PostgresStoreError(message, cause === undefined ? undefined : { cause }))
      } catch {
        // A throwing warning handler must not turn a warning into a crash.
      }
    },
  }
}
