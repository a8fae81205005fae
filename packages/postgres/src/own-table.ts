import type { PostgresAdapter } from './client-adapter'
import { deleteSubject, linkIdentity } from './identity'
import { runMigrations } from './migrations'
import { createPostgresSink } from './postgres-sink'
import type { TableAccess } from './postgres-store'
import type { SqlNames } from './sql-names'
import { defaultShape } from './table-shape'

/** The SDK's own table (`migrate()` creates it): fixed columns, so nothing to learn first. */
export function ownTable(
  adapter: PostgresAdapter,
  names: SqlNames,
  settings: { tombstoneMs: number; migrationTimeoutMs: number },
): TableAccess {
  return {
    shape: defaultShape(names),
    prepare: async () => {},
    sink: (channel) => createPostgresSink(adapter, names, { tombstoneMs: settings.tombstoneMs, channel }),
    migrate: () => runMigrations(adapter, names, settings.migrationTimeoutMs),
    identify: (link) => linkIdentity(adapter, names, link),
    deleteActivities: (subject) => deleteSubject(adapter, names, subject, settings.tombstoneMs),
  }
}
