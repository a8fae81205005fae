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

// SQLSTATEs worth sending the same batch again for (PostgreSQL appendix A): the server or the
// connection is going away or overloaded, or a concurrent transaction got in the way.
const RETRYABLE = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57014', // query_canceled (statement_timeout)
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '57P05', // idle_session_timeout
  '25P03', // idle_in_transaction_session_timeout
  // A missing table or schema is a deployment that has not run migrate() yet: keep the batch.
  '42P01', // undefined_table
  '3F000', // invalid_schema_name
])

/**
 * Sorts a failure into: `retryable` (the connection or server, so send it again), `data` (some
 * row's content, so split the batch to find it) or `permanent` (the statement can never work, such
 * as a missing privilege). An error without a SQLSTATE comes from the socket or the driver (a reset
 * connection, a closed pool) and is retryable.
 */
export function classifyError(error: unknown): ErrorKind {
  const code = sqlState(error)
  if (code === undefined) return 'retryable'
  const errorClass = code.slice(0, 2)
  // 08 connection exception, 53 insufficient resources (too many connections, disk full, out of memory).
  if (RETRYABLE.has(code) || errorClass === '08' || errorClass === '53') return 'retryable'
  // 22 data exception, 23 integrity constraint violation, 54 program limit exceeded (an index row too large).
  if (errorClass === '22' || errorClass === '23' || errorClass === '54') return 'data'
  return 'permanent'
}

/** The backend's own words for an error, with its SQLSTATE. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const code = sqlState(error)
  return code ? `${message} (SQLSTATE ${code})` : message
}
