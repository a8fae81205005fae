import { PostgresStoreError } from './errors'
import { nodePostgresAdapter } from './node-postgres'
import { pgliteAdapter } from './pglite'
import { postgresJsAdapter } from './postgres-js'

/** A result row, keyed by column name. */
export type Row = Record<string, unknown>

/** One connection (or one transaction on it), as the store uses it. */
export interface PostgresConnection {
  /** Runs one parameterised statement (`$1`, `$2`, …) and returns its rows. */
  query(text: string, params?: readonly unknown[]): Promise<Row[]>
  /**
   * Runs `COPY <target> FROM STDIN WITH (FORMAT binary)` with the concatenated `chunks` as its
   * input (sent as they are produced, where the driver can), or the driver's equivalent. It may stop
   * consuming `chunks` when it fails. Absent when the driver cannot report a failed COPY (then
   * batches go through `unnest`).
   */
  copyFrom?(target: string, chunks: Iterable<Uint8Array<ArrayBuffer>>): Promise<void>
}

/** The one tiny interface the store talks to, whichever driver is behind it. */
export interface PostgresAdapter extends PostgresConnection {
  /** The driver, for error messages and the benchmark. */
  readonly driver: 'node-postgres' | 'postgres.js' | 'pglite'
  /** Runs `work` inside BEGIN … COMMIT on one connection, rolling back when it throws. */
  transaction<T>(work: (connection: PostgresConnection) => Promise<T>): Promise<T>
}

/**
 * A node-postgres `Pool`. Preferred over a single `Client`: the sink's transactions and the
 * reader's queries then run on separate connections instead of taking turns, and a connection the
 * server drops is replaced.
 */
export interface NodePostgresPool {
  /** `pool.connect()`: checks a client out. */
  connect: (...args: never[]) => unknown
  /** `pool.query(text, values)`. */
  query: (...args: never[]) => unknown
  /** How the store tells a pool from a single client. */
  readonly totalCount: number
}

/** A connected node-postgres `Client` (or a `PoolClient` you keep checked out). */
export interface NodePostgresClient {
  /** `client.query(text, values)`, and submittables such as the store's COPY. */
  query: (...args: never[]) => unknown
  /** `client.connect()`; the store expects it already called. */
  connect: (...args: never[]) => unknown
}

/** A postgres.js `sql` instance, as returned by `postgres(url, options)`. */
export interface PostgresJsSql {
  /** `sql.unsafe(text, parameters)`: every statement the store runs is fixed text with parameters. */
  unsafe: (...args: never[]) => unknown
  /** `sql.begin(callback)`: the store's transactions. */
  begin: (...args: never[]) => unknown
}

/** A PGlite instance (`new PGlite()` or `await PGlite.create()`). */
export interface PGliteClient {
  /** `db.query(text, params, options)`. */
  query: (...args: never[]) => unknown
  /** `db.exec(script)`. */
  exec: (...args: never[]) => unknown
  /** `db.transaction(callback)`. */
  transaction: (...args: never[]) => unknown
}

/** Any database client the store accepts; none of the three drivers is a dependency of this package. */
export type PostgresClient = NodePostgresPool | NodePostgresClient | PostgresJsSql | PGliteClient

function has(value: unknown, key: string): boolean {
  return typeof (value as Record<string, unknown>)[key] === 'function'
}

/** Recognises the driver behind `client` and wraps it. */
export function toAdapter(client: PostgresClient): PostgresAdapter {
  if ((typeof client === 'function' || typeof client === 'object') && client !== null) {
    if (has(client, 'unsafe') && has(client, 'begin')) return postgresJsAdapter(client as PostgresJsSql)
    if (has(client, 'exec') && has(client, 'transaction') && has(client, 'query')) {
      return pgliteAdapter(client as PGliteClient)
    }
    if (has(client, 'query') && has(client, 'connect')) return nodePostgresAdapter(client as NodePostgresClient)
  }
  throw new PostgresStoreError(
    'The client must be a node-postgres Pool or Client, a postgres.js sql instance or a PGlite instance.',
  )
}
