import { createHash } from 'node:crypto'

/** Runs one statement with `$1`-style parameters and answers its rows: node-postgres and PGlite alike. */
export type Sql = (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>

/** The gateway's own database: its statements, and the schema its tables live in. */
export interface AppDatabase {
  sql: Sql
  /** The schema of `users`, `chat_sessions`, `chat_messages` and `activity`. @default 'public' */
  schema: string
}

/** A table of the app, schema-qualified and quoted. */
export function table(database: AppDatabase, name: 'users' | 'chat_sessions' | 'chat_messages' | 'activity'): string {
  return `"${database.schema.replaceAll('"', '""')}"."${name}"`
}

/** API keys are kept as SHA-256 digests: a copy of the table does not hand out working keys. */
export function apiKeyDigest(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex')
}

/**
 * The gateway's tables as the app already has them, `activity` exactly as the seed's schema
 * reference shows it. A running gateway has them already; this creates them where they are missing
 * (a fresh database, PGlite), and never changes an existing one. The SDK adds nothing to `activity`
 * but a unique index (its `migrate()`).
 */
export async function createAppTables(database: AppDatabase): Promise<void> {
  const schema = `"${database.schema.replaceAll('"', '""')}"`
  for (const statement of [
    `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    `CREATE TABLE IF NOT EXISTS ${table(database, 'users')} (
      id SERIAL PRIMARY KEY,
      privy_user_id TEXT UNIQUE NOT NULL,
      api_key_digest TEXT UNIQUE NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS ${table(database, 'chat_sessions')} (
      id SERIAL PRIMARY KEY,
      user_id INTEGER NOT NULL REFERENCES ${table(database, 'users')}(id),
      title TEXT NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS ${table(database, 'chat_messages')} (
      id SERIAL PRIMARY KEY,
      session_id INTEGER NOT NULL REFERENCES ${table(database, 'chat_sessions')}(id) ON DELETE CASCADE,
      role TEXT NOT NULL,
      content TEXT NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS ${table(database, 'activity')} (
      id SERIAL PRIMARY KEY,
      user_id INTEGER REFERENCES ${table(database, 'users')}(id),
      action VARCHAR(100) NOT NULL,
      details JSONB,
      created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    )`,
  ]) {
    await database.sql(statement)
  }
}

/** Adds a user with an API key (or finds the one with that privy id); answers its `users.id`. */
export async function ensureUser(database: AppDatabase, privyUserId: string, apiKey: string): Promise<number> {
  const [row] = await database.sql(
    `INSERT INTO ${table(database, 'users')} (privy_user_id, api_key_digest) VALUES ($1, $2)
     ON CONFLICT (privy_user_id) DO UPDATE SET api_key_digest = EXCLUDED.api_key_digest RETURNING id`,
    [privyUserId, apiKeyDigest(apiKey)],
  )
  return Number(row!.id)
}

/** The user an API key belongs to, or `undefined`. */
export async function userByApiKey(database: AppDatabase, apiKey: string): Promise<{ id: number; privyUserId: string } | undefined> {
  const [row] = await database.sql(`SELECT id, privy_user_id FROM ${table(database, 'users')} WHERE api_key_digest = $1`, [apiKeyDigest(apiKey)])
  return row ? { id: Number(row.id), privyUserId: String(row.privy_user_id) } : undefined
}
