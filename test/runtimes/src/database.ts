import { postgresStore } from '@usertracking/postgres'
import pg from 'pg'

/** The PostgreSQL server the runtimes connect to: DATABASE_URL, or the one CI and this machine run. */
export const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'

/**
 * Whether the PostgreSQL server answers. On a laptop without one the Postgres cases say loudly that
 * they did not run; under `CI=true` a missing server fails the run.
 */
export const databaseAvailable: boolean = await (async () => {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
    return true
  } catch (error) {
    if (process.env.CI === 'true') throw new Error(`[usertracking] [runtimes] CI=true but no PostgreSQL server answers at ${databaseUrl}.`, { cause: error })
    console.warn(`\n*** [usertracking] [runtimes] DID NOT RUN the PostgreSQL cases on workerd, Deno and Bun: no server at ${databaseUrl}. ***\n`)
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
})()

let counter = 0

/** A schema of its own for one suite, migrated from Node, and dropped at the end. */
export interface TestSchema {
  name: string
  /** Rows of the store's table, read from Node with node-postgres. */
  rows(): Promise<{ id: string; user_id: string; activity_type: string }[]>
  drop(): Promise<void>
}

/** Creates and migrates a fresh schema for the store's own table. */
export async function createSchema(): Promise<TestSchema> {
  const name = `rt_${process.pid}_${Date.now().toString(36)}_${++counter}`
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 })
  await postgresStore({ client: pool, schema: name, notify: false }).migrate()
  return {
    name,
    rows: async () => (await pool.query(`SELECT id::text, user_id, activity_type FROM "${name}".user_activities ORDER BY id`)).rows,
    async drop() {
      await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
      await pool.end()
    },
  }
}
