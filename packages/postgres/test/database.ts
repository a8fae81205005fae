import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import type { PostgresClient } from '../src/index'
import { postgresAnswers, serverUrl } from './server'

export { serverUrl, uniqueSchema } from './server'

/**
 * Whether the server-only tests (node-postgres, postgres.js, a terminated backend) can run. On a
 * laptop without PostgreSQL they say loudly that they did not run; under CI a missing server fails.
 */
export const serverAvailable: boolean = await postgresAnswers(serverUrl, {
  package: 'postgres',
  tests: 'the node-postgres / postgres.js / terminated-backend tests',
})

/** A database the store suite runs against, and a way to look at it without the store. */
export interface TestDatabase {
  kind: 'server' | 'pglite'
  client: PostgresClient
  /** A second, independent client on the same database (the same instance for PGlite). */
  anotherClient(): PostgresClient
  query(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>
  /** Runs a script of several statements. */
  exec(script: string): Promise<void>
  /** Resolves once no statement is running or waiting on `client`: whatever a store sent through it has settled. */
  idle(): Promise<void>
  close(): Promise<void>
}

/** The real server when DATABASE_URL is set, PGlite otherwise. */
export async function openTestDatabase(): Promise<TestDatabase> {
  if (process.env.DATABASE_URL) {
    const pools: pg.Pool[] = []
    const open = () => {
      const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 })
      pools.push(pool)
      return pool
    }
    const main = open()
    return {
      kind: 'server',
      client: main,
      anotherClient: open,
      query: async (text, params) => (await main.query(text, params)).rows,
      exec: async (script) => {
        await main.query(script)
      },
      idle: async () => {
        // A statement holds a client checked out of the pool (or waits for one) until it settles.
        while (main.idleCount < main.totalCount || main.waitingCount > 0) await new Promise((resolve) => setTimeout(resolve, 5))
      },
      close: async () => {
        await Promise.all(pools.map((pool) => pool.end()))
      },
    }
  }
  const db = await PGlite.create()
  return {
    kind: 'pglite',
    client: db,
    anotherClient: () => db,
    query: async (text, params) => (await db.query<Record<string, unknown>>(text, params)).rows,
    exec: async (script) => {
      await db.exec(script)
    },
    // PGlite runs one statement at a time, in the order they were sent.
    idle: async () => {
      await db.query('SELECT 1')
    },
    close: () => db.close(),
  }
}
