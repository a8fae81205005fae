import { PGlite } from '@electric-sql/pglite'
import type { Store } from '@usertracking/core'
import { postgresStore } from '@usertracking/postgres'

/** The demo's store and how to close it. */
export interface Database {
  store: Store
  close(): Promise<void>
}

/**
 * PostgreSQL embedded in the process (PGlite), its files in `dir`, so the demo needs no database
 * server and keeps its data between runs. For a real server, pass `postgresStore` a node-postgres
 * `Pool` or a postgres.js `sql` instead; nothing else changes.
 */
export async function openDatabase(dir: string): Promise<Database> {
  const database = await PGlite.create(dir)
  try {
    const store = postgresStore({ client: database })
    await store.migrate()
    return { store, close: () => database.close() }
  } catch (error) {
    await database.close().catch(() => {})
    throw error
  }
}
