import type { Activity, RejectedActivity, Sink, SinkResult, SinkWriteOptions } from '@usertracking/core'
import type { PostgresAdapter } from './client-adapter'
import { classifyError, describeError, PostgresStoreError, sqlState, type ErrorKind } from './errors'
import {
  copyColumns,
  encodeCopy,
  prepareRow,
  RECEIVED_AT_OR_NOW,
  unnestInsertSql,
  unnestParams,
  WRITE_COLUMNS,
  type PreparedRow,
} from './rows'
import type { SqlNames } from './sql-names'

// Dropped at COMMIT (or ROLLBACK), so one name serves every batch on every connection; qualified so
// that no table of that name on the search_path can stand in for it.
const STAGING = 'pg_temp.usertracking_staging'
const STAGING_TABLE = `CREATE TEMP TABLE ${STAGING} (
  id uuid, user_id text, anonymous_id text, session_id text, activity_type text, description text,
  "timestamp" timestamptz, end_time timestamptz, duration_ms double precision, status text, error text,
  token_usage jsonb, context jsonb, metadata jsonb, received_at timestamptz
) ON COMMIT DROP`

class WriteFailure {
  constructor(
    readonly kind: Exclude<ErrorKind, 'data'>,
    readonly cause: unknown,
  ) {}
}

/**
 * The batch writer behind `postgresStore(…).sink`.
 *
 * With COPY (node-postgres, PGlite) a batch is first sent as one binary `COPY` straight into the
 * table: one statement, so atomic by itself, and as fast as PostgreSQL takes rows. Only when that
 * meets an id the table already holds (a retried batch: SQLSTATE 23505), or when the batch mixes
 * rows with and without `receivedAt`, is it written, in one transaction, through COPY into a
 * temporary table and `INSERT … ON CONFLICT (id) DO NOTHING`. `received_at` is the activity's
 * `receivedAt` when it has one and the database's `now()` otherwise.
 * Without COPY (postgres.js) it is one `INSERT … SELECT FROM unnest(…) ON CONFLICT (id) DO NOTHING`.
 *
 * A data error (SQLSTATE classes 22, 23, 54) splits the batch in halves until the refused rows are
 * alone; those are reported as `rejected` and everything else is stored.
 */
export function createPostgresSink(adapter: PostgresAdapter, names: SqlNames): Sink {
  const stagedColumns = WRITE_COLUMNS.replace(/received_at$/, RECEIVED_AT_OR_NOW)
  const insertStaged = `INSERT INTO ${names.qualifiedTable} (${WRITE_COLUMNS}) SELECT ${stagedColumns} FROM ${STAGING} ON CONFLICT (id) DO NOTHING`
  const insertUnnest = unnestInsertSql(names.qualifiedTable)

  async function writeOnce(rows: readonly PreparedRow[]): Promise<void> {
    if (!adapter.copyFrom) {
      await adapter.query(insertUnnest, unnestParams(rows))
      return
    }
    const stamped = rows.filter((row) => row.receivedAtMs !== null).length
    // A batch mixing rows with and without receivedAt (rare: trackers send none, the ingest handler
    // stamps all) cannot be one COPY, which gives a column to every row or to none.
    if (stamped === 0 || stamped === rows.length) {
      try {
        await adapter.copyFrom(`${names.qualifiedTable} (${copyColumns(stamped > 0)})`, encodeCopy(rows, stamped > 0))
        return
      } catch (error) {
        if (sqlState(error) !== '23505') throw error
      }
    }
    const data = encodeCopy(rows, true)
    await adapter.transaction(async (connection) => {
      await connection.query(STAGING_TABLE)
      await connection.copyFrom!(`${STAGING} (${WRITE_COLUMNS})`, data)
      await connection.query(insertStaged)
    })
  }

  async function writeRows(rows: readonly PreparedRow[], signal: AbortSignal | undefined): Promise<RejectedActivity[]> {
    try {
      await writeOnce(rows)
      return []
    } catch (error) {
      const kind = classifyError(error)
      if (kind !== 'data') throw new WriteFailure(kind, error)
      if (rows.length === 1) return [{ id: rows[0]!.id, error: describeError(error) }]
      if (signal?.aborted) throw new WriteFailure('retryable', signal.reason)
      const middle = rows.length >>> 1
      const left = await writeRows(rows.slice(0, middle), signal)
      return left.concat(await writeRows(rows.slice(middle), signal))
    }
  }

  return {
    name: 'postgres',
    async write(batch: Activity[], options?: SinkWriteOptions): Promise<SinkResult> {
      const signal = options?.signal
      if (signal?.aborted) return { type: 'retryable', error: signal.reason }
      try {
        const rejected: RejectedActivity[] = []
        const rows: PreparedRow[] = []
        for (const activity of batch) {
          const prepared = prepareRow(activity)
          if ('refused' in prepared) rejected.push({ id: String(activity?.id), error: prepared.refused })
          else rows.push(prepared)
        }
        if (rows.length > 0) rejected.push(...(await writeRows(rows, signal)))
        return rejected.length > 0 ? { type: 'success', rejected } : { type: 'success' }
      } catch (caught) {
        const failure = caught instanceof WriteFailure ? caught : new WriteFailure('retryable', caught)
        const error = new PostgresStoreError(
          `Writing ${batch?.length ?? 0} activities to ${names.qualifiedTable} through ${adapter.driver} failed: ${describeError(failure.cause)}`,
          { cause: failure.cause },
        )
        return failure.kind === 'retryable' ? { type: 'retryable', error } : { type: 'failure', error }
      }
    },
  }
}
