import type { ExpiryResult } from '@usertracking/core'
import type { PostgresAdapter } from './client-adapter'
import type { SqlNames } from './sql-names'
import type { TableAccess } from './table-access'

/**
 * An activity older than `$1` milliseconds by either of its times, by the database's clock (the one
 * that stamps `received_at`).
 */
export const EXPIRED_ROW = `"timestamp" < now() - $1::float8 * interval '1 millisecond' OR received_at < now() - $1::float8 * interval '1 millisecond'`

/** What one expiry needs to know. */
export interface ExpirySettings {
  maxAgeMs: number
  tombstoneMs: number
}

/**
 * One run of retention over a store's table: its expired activities (partitions dropped or rows
 * deleted in batches, see `TableAccess.expire`), identity links older than `maxAgeMs`, and
 * tombstones older than `tombstoneMs`. It runs on one connection holding a session advisory lock
 * keyed by the table, so one process at a time expires a table; a call that finds the lock taken
 * answers `{ deleted: 0, skipped: true }` at once. The lock goes with the session if the process
 * or the connection dies.
 */
export function runExpiry(
  adapter: PostgresAdapter,
  names: SqlNames,
  table: TableAccess,
  settings: ExpirySettings,
  signal?: AbortSignal,
): Promise<ExpiryResult> {
  const key = `usertracking:retention:${names.schema}.${names.table}`
  return adapter.session(async (connection) => {
    const locked = await connection.query(`SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked`, [key])
    if (locked[0]?.locked !== true) return { deleted: 0, skipped: true }
    try {
      const deleted = await table.expire(connection, settings.maxAgeMs, signal)
      await connection.query(`DELETE FROM ${names.identitiesTable} WHERE linked_at < now() - $1::float8 * interval '1 millisecond'`, [settings.maxAgeMs])
      await connection.query(`DELETE FROM ${names.deletionsTable} WHERE deleted_at < now() - $1::float8 * interval '1 millisecond'`, [settings.tombstoneMs])
      return { deleted }
    } finally {
      // A failed unlock leaves the lock to the session, which a broken connection has already ended.
      await connection.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [key]).catch(() => undefined)
    }
  })
}
