import type { PostgresAdapter, PostgresConnection } from './client-adapter'
import { subjectHashSql } from './identity'
import { ingestFunctionStatement } from './ingest-function'
import { sqlNames, type SqlNames } from './sql-names'

/** The schema the store creates when none is given. */
export const DEFAULT_SCHEMA = 'public'
/** The table the store creates when none is given. */
export const DEFAULT_TABLE = 'user_activities'

function migrationsTableStatement(names: SqlNames): string {
  return `CREATE TABLE IF NOT EXISTS ${names.migrationsTable} (
  table_name text NOT NULL,
  version integer NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, version)
)`
}

/**
 * The store's own tables beside the activities: identity links and deletion tombstones. A mapped
 * table gets them too (new tables; the app's table is never altered).
 */
export function sideTableStatements(names: SqlNames): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${names.identitiesTable} (
  anonymous_id text PRIMARY KEY,
  user_id text NOT NULL,
  linked_at timestamptz NOT NULL DEFAULT now()
)`,
    `CREATE INDEX IF NOT EXISTS ${names.identitiesUserIndex} ON ${names.identitiesTable} (user_id)`,
    `CREATE TABLE IF NOT EXISTS ${names.deletionsTable} (
  subject_kind text NOT NULL CHECK (subject_kind IN ('user', 'anonymous')),
  subject text NOT NULL,
  deleted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subject_kind, subject)
)`,
  ]
}

/**
 * Hashes the tombstones an older version kept in plain text (and one still running beside this one
 * may write): idempotent, and cheap once done, so `migrate()` runs it every time.
 */
export function hashTombstonesStatement(names: SqlNames): string {
  return `WITH plain AS (DELETE FROM ${names.deletionsTable} WHERE subject NOT LIKE 'sha256:%' RETURNING subject_kind, subject, deleted_at)
INSERT INTO ${names.deletionsTable} AS kept (subject_kind, subject, deleted_at) SELECT subject_kind, ${subjectHashSql('subject')}, deleted_at FROM plain
ON CONFLICT (subject_kind, subject) DO UPDATE SET deleted_at = greatest(kept.deleted_at, excluded.deleted_at)`
}

/**
 * The migrations, in order; version N is `MIGRATIONS[N - 1]`. Each is a list of statements that
 * may run again harmlessly (IF NOT EXISTS), for teams that apply sql/schema.sql by hand first.
 */
const MIGRATIONS: ((names: SqlNames) => string[])[] = [
  (names) => [
    `CREATE TABLE IF NOT EXISTS ${names.qualifiedTable} (
  id uuid PRIMARY KEY,
  user_id text,
  anonymous_id text,
  session_id text,
  activity_type text NOT NULL,
  description text,
  "timestamp" timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  end_time timestamptz,
  duration_ms double precision,
  status text CHECK (status IN ('success', 'error')),
  error text,
  token_usage jsonb,
  total_tokens double precision GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(token_usage -> 'total') = 'number' THEN (token_usage ->> 'total')::double precision END
  ) STORED,
  context jsonb,
  metadata jsonb
)`,
    // One user's page, time range, stats and 4-hour counts; the id makes the keyset order total.
    `CREATE INDEX IF NOT EXISTS ${names.userTimeIndex} ON ${names.qualifiedTable} (user_id, "timestamp", id)`,
    // Every user's page (admin listing), export and stats over a time range.
    `CREATE INDEX IF NOT EXISTS ${names.timeIndex} ON ${names.qualifiedTable} ("timestamp", id)`,
  ],
  (names) => [
    // A nullable column without a default: added without rewriting the table.
    `ALTER TABLE ${names.qualifiedTable} ADD COLUMN IF NOT EXISTS cost jsonb`,
    // Reads and counts by when a record was received (receivedFrom / receivedTo, groupBy on receivedAt).
    `CREATE INDEX IF NOT EXISTS ${names.receivedIndex} ON ${names.qualifiedTable} (received_at, id)`,
    // One anonymous visitor's activities: their page, identify's back-fill, their deletion.
    `CREATE INDEX IF NOT EXISTS ${names.anonymousIndex} ON ${names.qualifiedTable} (anonymous_id, "timestamp", id) WHERE anonymous_id IS NOT NULL`,
    ...sideTableStatements(names),
  ],
  (names) => [hashTombstonesStatement(names)],
  // The small-batch insert as a function, so PostgreSQL keeps its plan (see ingest-function.ts).
  // Its body is screenedInsertSql's text: a change to that statement needs a new migration that
  // replaces the function, or databases already at this version keep the old body.
  (names) => [ingestFunctionStatement(names)],
]

/** The latest schema version this package knows. */
export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Every statement of every migration, which may all run again harmlessly: after a table was
 * replaced by a partitioned one, running them again recreates its indexes (and nothing else).
 */
export function tableStatements(names: SqlNames): string[] {
  return MIGRATIONS.flatMap((migration) => migration(names))
}

/**
 * Starts a migration's transaction: quiet, and holding the schema's advisory lock, so two processes
 * migrating at once take turns (CREATE … IF NOT EXISTS alone races on the catalogs).
 */
export async function lockForMigration(connection: PostgresConnection, names: SqlNames): Promise<void> {
  // IF NOT EXISTS on an existing object raises a NOTICE, which postgres.js prints by default.
  await connection.query(`SET LOCAL client_min_messages = warning`)
  // Keyed by the schema, not the table: stores of two tables in a new schema would otherwise race
  // to create the schema and its migrations table.
  await connection.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`usertracking:${names.schema}`])
}

/**
 * Brings the table up to {@link SCHEMA_VERSION}. One transaction under an advisory lock keyed by the
 * schema, so two processes migrating at once take turns (CREATE … IF NOT EXISTS alone races on the
 * catalogs), and the second finds the work done.
 */
export async function runMigrations(adapter: PostgresAdapter, names: SqlNames, timeoutMs: number): Promise<void> {
  await adapter.transaction(async (connection) => {
    await lockForMigration(connection, names)
    // Checked first because CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the
    // schema is already there.
    const existing = await connection.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [names.schema])
    if (existing.length === 0) await connection.query(`CREATE SCHEMA IF NOT EXISTS ${names.quotedSchema}`)
    await connection.query(migrationsTableStatement(names))
    const rows = await connection.query(
      `SELECT coalesce(max(version), 0)::int4 AS version FROM ${names.migrationsTable} WHERE table_name = $1`,
      [names.table],
    )
    const current = Number(rows[0]?.version ?? 0)
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      for (const statement of MIGRATIONS[version - 1]!(names)) await connection.query(statement)
      await connection.query(`INSERT INTO ${names.migrationsTable} (table_name, version) VALUES ($1, $2)`, [
        names.table,
        version,
      ])
    }
  }, timeoutMs)
}

/**
 * The whole schema as one SQL script, for teams that run their own migrations; sql/schema.sql is
 * this script for the default names. Running it and then `migrate()` is safe.
 *
 * @param schema - the schema to create the table in. @default 'public'
 * @param table - the table name. @default 'user_activities'
 */
export function schemaSql(schema: string = DEFAULT_SCHEMA, table: string = DEFAULT_TABLE): string {
  const names = sqlNames(schema, table)
  const quotedTable = table.replaceAll("'", "''")
  const statements = [
    `CREATE SCHEMA IF NOT EXISTS ${names.quotedSchema}`,
    migrationsTableStatement(names),
    ...MIGRATIONS.flatMap((migration, index) => [
      ...migration(names),
      `INSERT INTO ${names.migrationsTable} (table_name, version) VALUES ('${quotedTable}', ${index + 1}) ON CONFLICT DO NOTHING`,
    ]),
  ]
  return `BEGIN;\n\n${statements.join(';\n\n')};\n\nCOMMIT;\n`
}
