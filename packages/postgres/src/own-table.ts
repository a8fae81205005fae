import type { PostgresAdapter } from './client-adapter'
import { deleteSubject, deleteWhere, linkIdentity, ownIdentityTarget } from './identity'
import { lockForMigration, runMigrations } from './migrations'
import { convertToMonthly, createComingMonths, expirePartitioned, tableKind } from './partitions'
import { createPostgresSink } from './postgres-sink'
import { EXPIRED_ROW } from './retention'
import type { TableAccess } from './table-access'
import type { SqlNames } from './sql-names'
import { defaultShape } from './table-shape'

/**
 * The SDK's own table (`migrate()` creates it): fixed columns, so nothing to learn first. With
 * `partitioning: 'monthly'`, `migrate()` makes (or converts) it into monthly partitions; whatever
 * the option, expiry follows the table as it is (partitions dropped, or rows deleted).
 */
export function ownTable(
  adapter: PostgresAdapter,
  names: SqlNames,
  settings: {
    tombstoneMs: number
    migrationTimeoutMs: number
    partitioning: 'monthly' | undefined
    warn: (message: string, cause?: unknown) => void
  },
): TableAccess {
  const shape = defaultShape(names)
  const target = ownIdentityTarget(names)
  return {
    withShape: (work) => work(shape),
    keepsIds: true,
    sink: (announce) => createPostgresSink(adapter, names, { tombstoneMs: settings.tombstoneMs, announce, warn: settings.warn }),
    async migrate() {
      await runMigrations(adapter, names, settings.migrationTimeoutMs)
      if (settings.partitioning !== 'monthly') return
      await adapter.transaction(async (connection) => {
        await lockForMigration(connection, names)
        if ((await tableKind(connection, names)) === 'plain') await convertToMonthly(connection, names)
        await createComingMonths(connection, names)
      }, settings.migrationTimeoutMs)
    },
    identify: (link) => linkIdentity(adapter, names, target, link),
    deleteActivities: (subject) => deleteSubject(adapter, names, target, subject, settings.tombstoneMs),
    async expire(connection, maxAgeMs, signal) {
      if ((await tableKind(connection, names)) === 'partitioned') return expirePartitioned(adapter, connection, names, maxAgeMs, signal)
      return deleteWhere(connection, target, EXPIRED_ROW, [maxAgeMs], signal)
    },
  }
}
