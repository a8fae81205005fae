import type { AdapterOptions, NodePostgresClient, PGliteClient, PostgresAdapter, PostgresClient, PostgresJsSql } from './client-adapter'
import { PostgresStoreError } from './errors'
import { nodePostgresAdapter } from './node-postgres'
import { pgliteAdapter } from './pglite'
import { postgresJsAdapter } from './postgres-js'

function has(value: unknown, key: string): boolean {
  return typeof (value as Record<string, unknown>)[key] === 'function'
}

/** Recognises the driver behind `client` (by shape: none of them is imported) and wraps it. */
export function toAdapter(client: PostgresClient, options: AdapterOptions): PostgresAdapter {
  if ((typeof client === 'function' || typeof client === 'object') && client !== null) {
    if (has(client, 'unsafe') && has(client, 'begin')) return postgresJsAdapter(client as PostgresJsSql, options)
    if (has(client, 'exec') && has(client, 'transaction') && has(client, 'query')) {
      return pgliteAdapter(client as PGliteClient, options)
    }
    if (has(client, 'query') && has(client, 'connect')) return nodePostgresAdapter(client as NodePostgresClient, options)
  }
  throw new PostgresStoreError(
    'options.client must be a node-postgres Pool or Client, a postgres.js sql instance or a PGlite instance.',
  )
}
