import type { Activity, RejectedActivity, Sink, SinkResult, SinkWriteOptions } from '@usertracking/core'
import { answeredWithoutWriting, failedWrite, writeSplitting } from './batch-split'
import type { PostgresAdapter, Row, StatementOptions } from './client-adapter'
import { sqlState } from './errors'
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
import { DELETED_BEFORE_DELIVERY, screenBatch, screenedInsertSql } from './identity'
import { ingestCallSql, missingIngestFunction } from './ingest-function'
import type { SqlNames } from './sql-names'

// Dropped at COMMIT (or ROLLBACK), so one name serves every batch on every connection; qualified so
// that no table of that name on the search_path can stand in for it.
const STAGING = 'pg_temp.usertracking_staging'
const STAGING_TABLE = `CREATE TEMP TABLE ${STAGING} (
  id uuid, user_id text, anonymous_id text, session_id text, activity_type text, description text,
  "timestamp" timestamptz, end_time timestamptz, duration_ms double precision, status text, error text,
  token_usage jsonb, context jsonb, metadata jsonb, cost jsonb, received_at timestamptz
) ON COMMIT DROP`

/** The sink's statements are fixed text, run on every write: worth keeping prepared when the store does. */
const REPEATED: StatementOptions = { repeated: true }

/**
 * Batches of fewer rows go through one call of the ingest function (an `INSERT … SELECT FROM
 * unnest(…)` whose plan PostgreSQL keeps) instead of a screening query and a COPY: a COPY's fixed
 * cost (a second round trip, its 64 KiB encoding buffers, the CopyIn exchange) outweighs what it
 * saves per row until about this size. Measured on the PostgreSQL server through node-postgres,
 * one write after another (wall time per write, the function's first): 4 rows 1.05 ms against
 * 1.71 ms, 16 rows 1.51 against 2.22, 32 rows 2.34 against 3.23, 64 rows about even, 128 rows
 * 6.6 against 4.7.
 */
export const COPY_MIN_ROWS = 64

/** How long small writes send the statement itself after the database said it has no ingest function, in ms. */
export const INGEST_FUNCTION_RETRY_MS = 60_000

/** What the sink needs besides the adapter and the names. */
export interface PostgresSinkOptions {
  tombstoneMs: number
  /** Receives the ids each write stored (not those already stored), once that write committed; none when undefined. */
  announce: ((ids: readonly string[]) => void) | undefined
  /** Told once when the database has no ingest function, so small batches send the whole statement. */
  warn: (message: string, cause?: unknown) => void
}

/**
 * The batch writer behind `postgresStore(…).sink`.
 *
 * A small batch (fewer than {@link COPY_MIN_ROWS} rows: one ingest request, or a few coalesced by
 * the server's group commit) is one statement, one round trip: screened for deletions and identity
 * links and inserted with `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING` together
 * ({@link screenedInsertSql}), through the function `migrate()` created for it (ingest-function.ts),
 * whose plan PostgreSQL keeps; where there is none, the statement itself is sent. A larger batch is screened by one query ({@link screenBatch}), then,
 * with COPY (node-postgres, PGlite), first sent as one
 * binary `COPY` straight into the table: one statement, so atomic by itself, and as fast as
 * PostgreSQL takes rows. Only when that meets an id the table already holds (a retried batch:
 * SQLSTATE 23505), or when the batch mixes rows with and without `receivedAt`, is it written, in
 * one transaction, through COPY into a temporary table and `INSERT … ON CONFLICT DO NOTHING`.
 * `received_at` is the activity's `receivedAt` when it has one and the database's `now()` otherwise.
 * Without COPY (postgres.js) every batch goes as a small one does, in one statement.
 * The conflict names no columns so that it serves the plain table (primary key `id`) and the
 * monthly partitioned one (primary key `(id, timestamp)`, which a retry matches: it carries the
 * same `timestamp`) alike.
 *
 * With `announce`, every path hands it the ids it stored once they committed: the rows a COPY
 * took, or the INSERT's RETURNING (so ids already stored are not announced again).
 *
 * A data error (SQLSTATE classes 22, 23, 54) splits the batch in halves until the refused rows are
 * alone; those are reported as `rejected` and everything else is stored.
 */
export function createPostgresSink(adapter: PostgresAdapter, names: SqlNames, options: PostgresSinkOptions): Sink {
  const { announce } = options
  const stagedColumns = WRITE_COLUMNS.replace(/received_at$/, RECEIVED_AT_OR_NOW)
  // The ids an INSERT stored come back only when someone is told of them.
  const returningIds = (insert: string) => (announce === undefined ? insert : `${insert} RETURNING id::text AS id`)
  const insertStaged = returningIds(
    `INSERT INTO ${names.qualifiedTable} (${WRITE_COLUMNS}) SELECT ${stagedColumns} FROM ${STAGING} ON CONFLICT DO NOTHING`,
  )
  const insertUnnest = returningIds(unnestInsertSql(names.qualifiedTable))
  const copyTarget = (withReceivedAt: boolean) => `${names.qualifiedTable} (${copyColumns(withReceivedAt)})`
  const announceInserted = (inserted: readonly Row[]) => announce?.(inserted.map((row) => row.id as string))
  const announceCopied = (rows: readonly PreparedRow[]) => announce?.(rows.map((row) => row.id))

  /** Whether one COPY can carry these rows: all with `receivedAt`, or all without. */
  function uniformlyStamped(stamps: readonly unknown[]): { uniform: boolean; stamped: boolean } {
    const stamped = stamps.filter((stamp) => stamp !== null && stamp !== undefined).length
    return { uniform: stamped === 0 || stamped === stamps.length, stamped: stamped > 0 }
  }

  async function writeStaged(rows: readonly PreparedRow[]): Promise<void> {
    const inserted = await adapter.transaction(async (connection) => {
      await connection.query(STAGING_TABLE)
      await connection.copyFrom!(`${STAGING} (${WRITE_COLUMNS})`, encodeCopy(rows, true))
      return connection.query(insertStaged, [], REPEATED)
    })
    announceInserted(inserted)
  }

  async function writeOnce(rows: readonly PreparedRow[]): Promise<void> {
    if (!adapter.copyFrom || rows.length < COPY_MIN_ROWS) {
      announceInserted(await adapter.query(insertUnnest, unnestParams(rows), REPEATED))
      return
    }
    const { uniform, stamped } = uniformlyStamped(rows.map((row) => row.receivedAtMs))
    if (uniform) {
      try {
        await adapter.copyFrom(copyTarget(stamped), encodeCopy(rows, stamped))
        announceCopied(rows)
        return
      } catch (error) {
        if (sqlState(error) !== '23505') throw error
      }
    }
    await writeStaged(rows)
  }

  const screenedInsert = screenedInsertSql(names)
  const ingestCall = ingestCallSql(names)
  /** When to try the ingest function again after the database said it has none (`migrate()` may create it since). */
  let functionRetryAt = 0

  async function insertScreened(params: unknown[]): Promise<Row[]> {
    if (Date.now() >= functionRetryAt) {
      try {
        return await adapter.query(ingestCall, params, REPEATED)
      } catch (error) {
        if (!missingIngestFunction(error)) throw error
        // Never set before the first time the function was found missing: one warning.
        if (functionRetryAt === 0) {
          options.warn(
            `${names.ingestFunction} is missing or not allowed, so each small write to ${names.qualifiedTable} is planned anew; run migrate() (or apply sql/schema.sql) to create it.`,
            error,
          )
        }
        functionRetryAt = Date.now() + INGEST_FUNCTION_RETRY_MS
      }
    }
    return adapter.query(screenedInsert, params, REPEATED)
  }

  /**
   * A batch that goes without a COPY (a small one, or any batch of a client without COPY): screened
   * for deletions and identity links and inserted in one statement, and, like every write, split in
   * halves on a data error until the refused rows are alone.
   */
  async function writeScreened(batch: Activity[], signal: AbortSignal | undefined): Promise<SinkResult> {
    const preparation = new BatchPreparation(batch)
    preparation.complete()
    const rejected: RejectedActivity[] = [...preparation.refused]
    const refusedBySplitting = await writeSplitting(
      preparation.prepared,
      async (rows) => {
        const answered = await insertScreened([...unnestParams(rows), options.tombstoneMs])
        const stored: string[] = []
        for (const row of answered) {
          if (row.deleted === true) rejected.push({ id: String(row.id), error: DELETED_BEFORE_DELIVERY })
          else stored.push(String(row.id))
        }
        announce?.(stored)
      },
      signal,
    )
    rejected.push(...refusedBySplitting)
    return rejected.length > 0 ? { type: 'success', rejected } : { type: 'success' }
  }

  /** After a first COPY failed on these rows: an id already stored is worth the staged path, nothing else is. */
  async function retryAfterCopy(error: unknown, rows: readonly PreparedRow[]): Promise<void> {
    if (sqlState(error) !== '23505') throw error
    await writeStaged(rows)
  }

  return {
    name: 'postgres',
    async write(incoming: Activity[], writeOptions?: SinkWriteOptions): Promise<SinkResult> {
      const signal = writeOptions?.signal
      const early = answeredWithoutWriting(incoming, signal)
      if (early) return early
      try {
        if (!adapter.copyFrom || incoming.length < COPY_MIN_ROWS) return await writeScreened(incoming, signal)
        const screened = await screenBatch(adapter, names, incoming, options.tombstoneMs)
        const { batch } = screened
        // Activities are prepared as the COPY consumes them, so this process prepares and encodes
        // the next rows while PostgreSQL stores the first ones.
        const preparation = new BatchPreparation(batch)
        const { uniform, stamped } = uniformlyStamped(batch.map((activity) => activity?.receivedAt))
        const copying = adapter.copyFrom !== undefined && uniform && batch.length >= COPY_MIN_ROWS
        let failure: { error: unknown } | undefined
        if (copying) {
          try {
            await adapter.copyFrom!(copyTarget(stamped), encodeCopy(preparation.rows(), stamped))
          } catch (error) {
            failure = { error }
          }
        }
        // Whatever the COPY did not consume (it failed early, or there was none) is prepared now.
        preparation.complete()
        // The COPY took every row the preparation accepted: none was stored before (no 23505).
        if (copying && failure === undefined) announceCopied(preparation.prepared)
        const rejected = [...screened.rejected, ...preparation.refused]
        const { prepared } = preparation
        if ((failure !== undefined || !copying) && prepared.length > 0) {
          const first = failure
          rejected.push(
            ...(await writeSplitting(
              prepared,
              writeOnce,
              signal,
              first && { error: first.error, retry: (rows) => retryAfterCopy(first.error, rows) },
            )),
          )
        }
        return rejected.length > 0 ? { type: 'success', rejected } : { type: 'success' }
      } catch (caught) {
        return failedWrite(caught, incoming?.length ?? 0, names.qualifiedTable, adapter.driver)
      }
    },
  }
}
