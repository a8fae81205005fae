import type { PostgresAdapter } from './client-adapter'
import { isUndefinedColumn } from './errors'
import { deleteSubject, deleteWhere, linkIdentity } from './identity'
import { createMappedSink } from './mapped-sink'
import { resolveMappedTable, type ResolvedTable } from './mapped-shape'
import { compileMapping, type ActivityMapping } from './mapping'
import { hashTombstonesStatement, lockForMigration, sideTableStatements } from './migrations'
import type { TableAccess } from './table-access'
import type { SqlNames } from './sql-names'
import { readCatalog } from './table-catalog'

/**
 * An app's own table, described by a mapping: checked against the catalog once, then read and
 * written through it; read again when a statement finds a column gone.
 */
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
  const withTable = async <T>(work: (resolved: ResolvedTable) => Promise<T>): Promise<T> => {
    const current = load()
    const resolved = await current
    try {
      return await work(resolved)
    } catch (error) {
      if (!isUndefinedColumn(error)) throw error
      // The app changed its table since the catalog was read (a column renamed or dropped): read it
      // again, once. What still does not fit then fails with the column named.
      if (loading === current) loading = undefined
      return work(await load())
    }
  }
  return {
    withShape: (work) => withTable((resolved) => work(resolved.shape)),
    keepsIds: compiled.places.has('id') || compiled.folded.includes('id'),
    sink: (announce) => createMappedSink(adapter, names, compiled, withTable, { tombstoneMs: settings.tombstoneMs, announce }),
    async migrate() {
      await adapter.transaction(async (connection) => {
        await lockForMigration(connection, names)
        const resolved = resolveMappedTable(await readCatalog(connection, names.qualifiedTable), compiled, names)
        for (const statement of [...sideTableStatements(names), hashTombstonesStatement(names)]) await connection.query(statement)
        if (resolved.idIndexStatement) await connection.query(resolved.idIndexStatement)
      }, settings.migrationTimeoutMs)
      loading = undefined
    },
    identify: (link) => withTable((resolved) => linkIdentity(adapter, names, resolved.identity, link)),
    deleteActivities: (subject) => withTable((resolved) => deleteSubject(adapter, names, resolved.identity, subject, settings.tombstoneMs)),
    expire: (connection, maxAgeMs, signal) =>
      withTable(({ shape, identity }) => {
        // A row whose time cannot be read (a JSON key holding no ISO date) is kept: its age is unknown.
        const expired = [shape.timestamp, shape.receivedAt]
          .filter((time): time is string => time !== undefined)
          .map((time) => `(${time}) < now() - $1::float8 * interval '1 millisecond'`)
          .join(' OR ')
        return deleteWhere(connection, identity, expired, [maxAgeMs], signal)
      }),
  }
}
