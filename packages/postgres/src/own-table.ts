import type { PostgresAdapter } from './client-adapter'
import { deleteSubject, linkIdentity, ownIdentityTarget } from './identity'
import { runMigrations } from './migrations'
import { createPostgresSink } from './postgres-sink'
import type { TableAccess } from './table-access'
import type { SqlNames } from './sql-names'
import { defaultShape } from './table-shape'

/** The SDK's own table (`migrate()` creates it): fixed columns, so nothing to learn first. */
export function ownTable(
  adapter: PostgresAdapter,
  names: SqlNames,
  settings: { tombstoneMs: number; migrationTimeoutMs: number },
): TableAccess {
  const shape = defaultShape(names)
  const target = ownIdentityTarget(names)
  return {
    shape: async () => shape,
    keepsIds: true,
    sink: (channel) => createPostgresSink(adapter, names, { tombstoneMs: settings.tombstoneMs, channel }),
    migrate: () => runMigrations(adapter, names, settings.migrationTimeoutMs),
    identify: (link) => linkIdentity(adapter, names, target, link),
    deleteActivities: (subject) => deleteSubject(adapter, names, target, subject, settings.tombstoneMs),
  }
}
