import { UserTrackingError } from '@usertracking/core'

/**
 * What `@usertracking/postgres` throws for a mistake in how it is set up (an unknown client, an
 * invalid table name) and what its sink reports as the `error` of a failed write, with the driver's error as
 * `cause`. Expected write failures are never thrown: they come back as a `SinkResult`.
 */
export class PostgresStoreError extends UserTrackingError {
  /** Always `PostgresStoreError`. */
  override name = 'PostgresStoreError'
  /** The SQLSTATE of the underlying database error, when there is one. */
  readonly code: string | undefined

  /**
   * @param message - what went wrong, as a sentence; the package prefix is added.
   * @param options - the underlying error, if any.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(`[usertracking] [postgres] ${message}`, options)
    this.code = sqlState(options?.cause)
  }
}

/**
 * The error a read throws for a query it cannot run as asked (a cursor it did not issue, an unknown
 * sort key, an invalid date): a `RangeError`, which the server handlers answer with 400.
 */
export function invalidQuery(message: string): RangeError {
  return new RangeError(`[usertracking] [postgres] ${message}`)
}

/** How the sink treats a failed statement. */
export type ErrorKind = 'retryable' | 'data' | 'permanent'

/** The SQLSTATE of a driver error (node-postgres, postgres.js and PGlite all put it in `code`). */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/**
 * Whether `error`, or the failure it carries as `cause`, is 42703 undefined_column: a statement
 * named a column the table no longer has.
 */
export function isUndefinedColumn(error: unknown): boolean {
  return sqlState(error) === '42703' || sqlState((error as { cause?: unknown } | null | undefined)?.cause) === '42703'
}

/**
 * SQLSTATEs that mean the table is not shaped as the statement expects: a column missing
 * (42703), of another type (42804, or 22P03 from a binary COPY, whose values are typed by this
 * package, never by the data), or no unique index for `ON CONFLICT` (42P10).
 */
const SCHEMA_MISMATCH = new Set(['42703', '42804', '22P03', '42P10'])

function contextOf(error: unknown): string | undefined {
  const where = (error as { where?: unknown } | null | undefined)?.where
  return typeof where === 'string' ? where : undefined
}

/**
 * Whether `error` says the table is not shaped as the statement expects. A binary COPY value
 * shorter than its column's type expects fails as a protocol violation (08P01) inside the COPY,
 * naming the column in its context: that too is the table, never the connection.
 */
function isSchemaMismatch(error: unknown, code: string): boolean {
  return SCHEMA_MISMATCH.has(code) || (code === '08P01' && /^COPY .*, column /.test(contextOf(error) ?? ''))
}

/**
 * Sorts a failure into: `data` (some row's content, so split the batch to find it), `permanent`
 * (the statement itself can never work) or `retryable` (everything else: the connection, the server
 * or a concurrent transaction, so send the same batch again).
 *
 * - data: 22 data exception, 23 integrity constraint violation, 54 program limit exceeded (an index
 *   row too large).
 * - permanent: 42 syntax error or access rule violation (a dropped column, a missing privilege),
 *   0A feature not supported, and a binary COPY into a column of another type (22P03, or 08P01 in
 *   the COPY), except 42P01 undefined_table: a deployment that has not run migrate() yet keeps its
 *   batches.
 * - retryable: 08 connection exception, 40001 serialization failure, 40P01 deadlock, 53300 too many
 *   connections, 57P01 admin shutdown and the rest of 53 / 57, and any error without a SQLSTATE (a
 *   reset socket, a closed pool, a statement past `queryTimeoutMs`). Unknown classes are retried
 *   too: the tracker's retry limit bounds that, while a wrong `permanent` would drop activities for good.
 */
export function classifyError(error: unknown): ErrorKind {
  const code = sqlState(error)
  if (code === undefined) return 'retryable'
  if (isSchemaMismatch(error, code)) return 'permanent'
  const errorClass = code.slice(0, 2)
  if (errorClass === '22' || errorClass === '23' || errorClass === '54') return 'data'
  if ((errorClass === '42' && code !== '42P01') || errorClass === '0A') return 'permanent'
  return 'retryable'
}

/**
 * The backend's own words for an error, with its SQLSTATE; for a table that does not match, the
 * column (from the error's context when the message does not name it) and what to do about it.
 */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const code = sqlState(error)
  if (!code) return message
  if (!isSchemaMismatch(error, code)) return `${message} (SQLSTATE ${code})`
  const column = /column (\S+)/.exec(contextOf(error) ?? '')?.[1]
  const named = column !== undefined && !message.includes(column) ? ` (column ${column})` : ''
  return `${message}${named} (SQLSTATE ${code}). The table does not have the columns this store writes: run migrate(), or describe the table with options.mapping.`
}
