import type { Activity, RejectedActivity, Sink, SinkResult, SinkWriteOptions } from '@usertracking/core'
import type { PostgresAdapter } from './client-adapter'
import { classifyError, describeError, PostgresStoreError, sqlState, type ErrorKind } from './errors'
import {
  copyColumns,
  BatchPreparation,
  encodeCopy,
  RECEIVED_AT_OR_NOW,
  unnestInsertSql,
  unnestParams,
  WRITE_COLUMNS,
  type PreparedRow,
} from './rows'
import { screenBatch } from './identity'
import type { SqlNames } from './sql-names'

// Dropped at COMMIT (or ROLLBACK), so one name serves every batch on every connection; qualified so
// that no table of that name on the search_path can stand in for it.
const STAGING = 'pg_temp.usertracking_staging'
const STAGING_TABLE = `CREATE TEMP TABLE ${STAGING} (
  id uuid, user_id text, anonymous_id text, session_id text, activity_type text, description text,
  "timestamp" timestamptz, end_time timestamptz, duration_ms double precision, status text, error text,
  token_usage jsonb, context jsonb, metadata jsonb, cost jsonb, received_at timestamptz
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
export function createPostgresSink(adapter: PostgresAdapter, names: SqlNames, options: { tombstoneMs: number }): Sink {
  const stagedColumns = WRITE_COLUMNS.replace(/received_at$/, RECEIVED_AT_OR_NOW)
  const insertStaged = `INSERT INTO ${names.qualifiedTable} (${WRITE_COLUMNS}) SELECT ${stagedColumns} FROM ${STAGING} ON CONFLICT (id) DO NOTHING`
  const insertUnnest = unnestInsertSql(names.qualifiedTable)
  const copyTarget = (withReceivedAt: boolean) => `${names.qualifiedTable} (${copyColumns(withReceivedAt)})`

  /** Whether one COPY can carry these rows: all with `receivedAt`, or all without. */
  function uniformlyStamped(stamps: readonly unknown[]): { uniform: boolean; stamped: boolean } {
    const stamped = stamps.filter((stamp) => stamp !== null && stamp !== undefined).length
    return { uniform: stamped === 0 || stamped === stamps.length, stamped: stamped > 0 }
  }

  async function writeStaged(rows: readonly PreparedRow[]): Promise<void> {
    await adapter.transaction(async (connection) => {
      await connection.query(STAGING_TABLE)
      await connection.copyFrom!(`${STAGING} (${WRITE_COLUMNS})`, encodeCopy(rows, true))
      await connection.query(insertStaged)
    })
  }

  async function writeOnce(rows: readonly PreparedRow[]): Promise<void> {
    if (!adapter.copyFrom) {
      await adapter.query(insertUnnest, unnestParams(rows))
      return
    }
    const { uniform, stamped } = uniformlyStamped(rows.map((row) => row.receivedAtMs))
    if (uniform) {
      try {
        await adapter.copyFrom(copyTarget(stamped), encodeCopy(rows, stamped))
        return
      } catch (error) {
        if (sqlState(error) !== '23505') throw error
      }
    }
    await writeStaged(rows)
  }

  /**
   * Writes `rows`, splitting on data errors; returns the rows refused. `failure` is the error of an
   * attempt already made with exactly these rows, so it is not made again.
   */
  async function writeRows(
    rows: readonly PreparedRow[],
    signal: AbortSignal | undefined,
    failure?: { error: unknown },
  ): Promise<RejectedActivity[]> {
    let error: unknown
    try {
      if (failure === undefined) await writeOnce(rows)
      else if (sqlState(failure.error) === '23505') await writeStaged(rows)
      else throw failure.error
      return []
    } catch (caught) {
      error = caught
    }
    const kind = classifyError(error)
    if (kind !== 'data') throw new WriteFailure(kind, error)
    if (rows.length === 1) return [{ id: rows[0]!.id, error: describeError(error) }]
    if (signal?.aborted) throw new WriteFailure('retryable', signal.reason)
    const middle = rows.length >>> 1
    const left = await writeRows(rows.slice(0, middle), signal)
    return left.concat(await writeRows(rows.slice(middle), signal))
  }

  return {
    name: 'postgres',
    async write(incoming: Activity[], writeOptions?: SinkWriteOptions): Promise<SinkResult> {
      const signal = writeOptions?.signal
      if (signal?.aborted) return { type: 'retryable', error: signal.reason }
      try {
        const screened = await screenBatch(adapter, names, incoming, options.tombstoneMs)
        const { batch } = screened
        // Activities are prepared as the COPY consumes them, so this process prepares and encodes
        // the next rows while PostgreSQL stores the first ones.
        const preparation = new BatchPreparation(batch)
        const { uniform, stamped } = uniformlyStamped(batch.map((activity) => activity?.receivedAt))
        let failure: { error: unknown } | undefined
        if (adapter.copyFrom && uniform) {
          try {
            await adapter.copyFrom(copyTarget(stamped), encodeCopy(preparation.rows(), stamped))
          } catch (error) {
            failure = { error }
          }
        }
        // Whatever the COPY did not consume (it failed early, or there was none) is prepared now.
        preparation.complete()
        const rejected = [...screened.rejected, ...preparation.refused]
        const { prepared } = preparation
        if ((failure !== undefined || !adapter.copyFrom || !uniform) && prepared.length > 0) {
          rejected.push(...(await writeRows(prepared, signal, failure)))
        }
        return rejected.length > 0 ? { type: 'success', rejected } : { type: 'success' }
      } catch (caught) {
        const failure = caught instanceof WriteFailure ? caught : new WriteFailure('retryable', caught)
        const error = new PostgresStoreError(
          `Writing ${incoming?.length ?? 0} activities to ${names.qualifiedTable} through ${adapter.driver} failed: ${describeError(failure.cause)}`,
          { cause: failure.cause },
        )
        return failure.kind === 'retryable' ? { type: 'retryable', error } : { type: 'failure', error }
      }
    },
  }
}
