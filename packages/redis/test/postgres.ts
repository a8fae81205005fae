import { postgresStore, type PostgresStore } from '@usertracking/postgres'
import pg from 'pg'
import { postgresAnswers, serverUrl, uniqueSchema as schemaNamed } from '../../postgres/test/server'

/** The PostgreSQL server the worker tests drain into: DATABASE_URL, or the one CI and this machine run. */
export const databaseUrl = serverUrl

/** Whether the PostgreSQL server answers; loud when it does not, fatal under CI. */
export const postgresAvailable: boolean = await postgresAnswers(databaseUrl, { package: 'redis', tests: 'the worker tests' })

/** A fresh table in a schema of its own, its store, and a way to count what it holds. */
export interface TestTable {
  schema: string
  store: PostgresStore
  pool: pg.Pool
  /** Rows, and distinct ids among them. */
  count(): Promise<{ rows: number; ids: number }>
  drop(): Promise<void>
}

/** A unique schema name: tests in parallel files never share a table. */
export function uniqueSchema(): string {
  return schemaNamed('ut_redis')
}

/**
 * Creates the table through `migrate()`. `connectionString` lets the store go through a proxy; the
 * counts always go straight to the server.
 */
export async function openTable(schema = uniqueSchema(), connectionString = databaseUrl): Promise<TestTable> {
  const pool = new pg.Pool({ connectionString, max: 4 })
  const direct = new pg.Pool({ connectionString: databaseUrl, max: 2 })
  const store = postgresStore({ client: pool, schema })
  await store.migrate()
  return {
    schema,
    store,
    pool,
    async count() {
      const { rows } = await direct.query(`SELECT count(*)::int AS rows, count(DISTINCT id)::int AS ids FROM "${schema}".user_activities`)
      return rows[0] as { rows: number; ids: number }
    },
    async drop() {
      await direct.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await Promise.all([pool.end(), direct.end()])
    },
  }
}
