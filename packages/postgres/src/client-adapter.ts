/**
 * The contract between the store and a database driver. Each driver (`node-postgres.ts`,
 * `postgres-js.ts`, `pglite.ts`) implements it importing only this file and small shared helpers;
 * `detect-client.ts` is the one place that knows all three.
 */

/** A result row, keyed by column name. */
export type Row = Record<string, unknown>

/** How one statement is run. */
export interface StatementOptions {
  /**
   * The text is fixed and runs again and again (the sink's writes, the NOTIFY): the adapter keeps it
   * prepared on each connection when the store's `prepareStatements` is on. Never set on text built
   * per call (a read with its `LIMIT`), which would leave a new prepared statement on every
   * connection for every variant.
   */
  repeated?: boolean
}

/** One connection (or one transaction on it), as the store uses it. */
export interface PostgresConnection {
  /** Runs one parameterised statement (`$1`, `$2`, …) and returns its rows. */
  query(text: string, params?: readonly unknown[], options?: StatementOptions): Promise<Row[]>
  /**
   * Runs `COPY <target> FROM STDIN WITH (FORMAT binary)` with the concatenated `chunks` as its
   * input (sent as they are produced, where the driver can), or the driver's equivalent. It may
   * stop consuming `chunks` when it fails. Absent when the driver cannot report a failed COPY (then
   * batches go through `unnest`).
   */
  copyFrom?(target: string, chunks: Iterable<Uint8Array<ArrayBuffer>>): Promise<void>
}

/** What a LISTEN tells the store. */
export interface NotificationHandlers {
  /** A notification on the channel, with its payload. */
  notify(payload: string): void
  /**
   * LISTEN is in effect: the first time, and again after the driver reconnected (`again`), when
   * notifications sent in between were missed.
   */
  listening(again: boolean): void
  /** The listening connection failed; the driver retries by itself. */
  lost(error: unknown): void
}

/** The one tiny interface the store talks to, whichever driver is behind it. */
export interface PostgresAdapter extends PostgresConnection {
  /** The driver, for error messages and the benchmark. */
  readonly driver: 'node-postgres' | 'postgres.js' | 'pglite'
  /**
   * Runs `work` inside BEGIN … COMMIT on one connection, rolling back when it throws. The whole
   * transaction is bounded by `timeoutMs` (default: the adapter's query timeout).
   */
  transaction<T>(work: (connection: PostgresConnection) => Promise<T>, timeoutMs?: number): Promise<T>
  /**
   * Runs `work` on one connection held for the whole of it, outside a transaction (each statement
   * commits by itself), so that a session-level advisory lock taken by its first statement holds
   * until its last. Each statement is bounded by the query timeout. Over a single node-postgres
   * `Client` or PGlite that connection is the only one: other statements take turns with its own.
   */
  session<T>(work: (connection: PostgresConnection) => Promise<T>): Promise<T>
  /**
   * LISTENs on `channel` (a name used as is, quoted) on a connection of its own, reconnecting by
   * itself after a lost connection until the returned function is called.
   */
  listen(channel: string, handlers: NotificationHandlers): () => Promise<void>
}

/** What every driver adapter is built with. */
export interface AdapterOptions {
  /** Bound of every statement (and of every transaction), in milliseconds. */
  queryTimeoutMs: number
  /** Receives what the adapter did to keep the process alive (a listener it added, a reconnection). */
  warn(message: string, cause?: unknown): void
  /** The store's `prepareStatements`: statements run with `repeated` are kept prepared on each connection. @default false */
  prepareStatements?: boolean
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
