import type { PostgresAdapter } from './client-adapter'
import { deleteSubject, deleteWhere, linkIdentity } from './identity'
import { createMappedSink } from './mapped-sink'
import { resolveMappedTable, type ResolvedTable } from './mapped-shape'
import { compileMapping, type ActivityMapping } from './mapping'
import { lockForMigration, sideTableStatements } from './migrations'
import type { TableAccess } from './table-access'
import type { SqlNames } from './sql-names'
import { readCatalog } from './table-catalog'

/** An app's own table, described by a mapping: checked against the catalog once, then read and written through it. */
export function mappedTable(
  adapter: PostgresAdapter,
  names: SqlNames,
  mapping: ActivityMapping,
  settings: { tombstoneMs: number; migrationTimeoutMs: number },
): TableAccess {
  const compiled = compileMapping(mapping)
  let loading: Promise<ResolvedTable> | undefined
  const load = () => {
    loading ??= readCatalog(adapter, names.qualifiedTable).then(
      (catalog) => resolveMappedTable(catalog, compiled, names),
      (error: unknown) => {
        loading = undefined
        throw error
      },
    )
    // A table that did not fit is looked at again next time: the app may have fixed it meanwhile.
    loading.catch(() => (loading = undefined))
    return loading
  }
  return {
    shape: async () => (await load()).shape,
    keepsIds: compiled.places.has('id') || compiled.folded.includes('id'),
    sink: (channel) => createMappedSink(adapter, names, compiled, load, { tombstoneMs: settings.tombstoneMs, channel }),
    async migrate() {
      await adapter.transaction(async (connection) => {
        await lockForMigration(connection, names)
        const resolved = resolveMappedTable(await readCatalog(connection, names.qualifiedTable), compiled, names)
        for (const statement of sideTableStatements(names)) await connection.query(statement)
        if (resolved.idIndexStatement) await connection.query(resolved.idIndexStatement)
      }, settings.migrationTimeoutMs)
      loading = undefined
    },
    identify: async (link) => linkIdentity(adapter, names, (await load()).identity, link),
    deleteActivities: async (subject) => deleteSubject(adapter, names, (await load()).identity, subject, settings.tombstoneMs),
    async expire(connection, maxAgeMs, signal) {
      const { shape, identity } = await load()
      // A row whose time cannot be read (a JSON key holding no ISO date) is kept: its age is unknown.
      const expired = [shape.timestamp, shape.receivedAt]
        .filter((time): time is string => time !== undefined)
        .map((time) => `(${time}) < now() - $1::float8 * interval '1 millisecond'`)
        .join(' OR ')
      return deleteWhere(connection, identity, expired, [maxAgeMs], signal)
    },
  }
}
