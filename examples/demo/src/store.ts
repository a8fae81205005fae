import { PGlite } from '@electric-sql/pglite'
import type { Store } from '@usertracking/core'
import { postgresStore } from '@usertracking/postgres'

/**
 * The store the demo writes to and reads from: PostgreSQL embedded in the process (PGlite, kept in
 * memory), so the demo needs no database server. Point `client` at a node-postgres `Pool` or a
 * postgres.js `sql` for a real one; nothing else changes.
 */
export async function openStore(): Promise<{ store: Store; label: string; close: () => Promise<void> }> {
  const database = new PGlite()
  const store = postgresStore({ client: database })
  await store.migrate()
  return { store, label: 'PostgreSQL (embedded PGlite), table user_activities', close: () => database.close() }
}
