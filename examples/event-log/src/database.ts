import { PGlite } from '@electric-sql/pglite'
import { postgresStore, type PostgresStore } from '@usertracking/postgres'
import pg from 'pg'

/** The event log's database, opened from the environment. */
export interface Database {
  /** The store over it; call `migrate()` before serving. */
  store: PostgresStore
  /** Where the rows live, for the start-up line. */
  label: string
  close(): Promise<void>
}

/**
 * PostgreSQL at `url` (the docker-compose database of the seed) when it is set, else PostgreSQL
 * embedded in the process (PGlite, in memory), so the example runs with nothing installed.
 * `schema` (default `public`) holds the table. Nothing connects until the store is first used.
 */
export function openDatabase(options: { url?: string | undefined; schema?: string | undefined } = {}): Database {
  const { url, schema = 'public' } = options
  if (url) {
    const pool = new pg.Pool({ connectionString: url, max: 10 })
    // An idle pooled client that loses its server emits 'error' on the pool; without a listener
    // that would end the process. The store answers a failed write as retryable.
    pool.on('error', (error) => console.error('[event-log] PostgreSQL connection lost:', error.message))
    return { store: postgresStore({ client: pool, schema }), label: `PostgreSQL at ${new URL(url).host}, table ${schema}.user_activities`, close: () => pool.end() }
  }
  const database = new PGlite()
  return {
    store: postgresStore({ client: database, schema }),
    label: 'PostgreSQL embedded in the process (PGlite, in memory; set DATABASE_URL to keep the events)',
    close: () => database.close(),
  }
}
