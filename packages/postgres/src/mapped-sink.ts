import { isUuid, type Activity, type RejectedActivity, type Sink, type SinkResult, type SinkWriteOptions } from '@usertracking/core'
import { answeredWithoutWriting, failedWrite, WriteFailure, writeSplitting } from './batch-split'
import type { PostgresAdapter } from './client-adapter'
import { PostgresStoreError } from './errors'
import { screenBatch } from './identity'
import { activityToRow, type EncodedRow } from './mapped-rows'
import { TableMismatchError, type ResolvedTable } from './mapped-shape'
import type { CompiledMapping } from './mapping'
import { quoteIdentifier, type SqlNames } from './sql-names'
import type { CatalogColumn } from './table-catalog'

/** SQL turning the text `value` into `column`'s type, as the INSERT needs it. */
function fromText(value: string, column: CatalogColumn, stampNow: boolean): string {
  if (column.category === 'timestamptz' || column.category === 'timestamp') {
    const instant = stampNow ? `coalesce(${value}::timestamptz, now())` : `${value}::timestamptz`
    // A timestamp without time zone holds UTC wall time, as reads take it.
    return column.category === 'timestamp' ? `(${instant} AT TIME ZONE 'UTC')` : instant
  }
  return column.castFromText ? `${value}::${column.type}` : value
}

/**
 * The batch writer into a mapped table: one `INSERT … SELECT FROM unnest(…)` per batch (every
 * column a `text[]` parameter, cast to the column's type in SQL), so a batch of any size is one
 * statement and one round trip. With a place for the activity id, `ON CONFLICT (<it>) DO NOTHING`
 * makes a retry store nothing twice; without one, delivery is at-least-once. Data errors split the
 * batch as in the SDK's own table; a conversion that throws rejects its activity alone. A column
 * found gone makes `withTable` read the catalog again and the batch is built and written once more.
 */
export function createMappedSink(
  adapter: PostgresAdapter,
  names: SqlNames,
  mapping: CompiledMapping,
  withTable: <T>(work: (resolved: ResolvedTable) => Promise<T>) => Promise<T>,
  options: { tombstoneMs: number; announce: ((ids: readonly string[]) => void) | undefined },
): Sink {
  const receivedAtColumn = (() => {
    const place = mapping.places.get('receivedAt')
    return place?.in === 'column' ? place.name : undefined
  })()

  async function insert(resolved: ResolvedTable, rows: readonly EncodedRow[]): Promise<void> {
    const columns = [...new Set(rows.flatMap((row) => Object.keys(row.values)))]
    const arrays = columns.map((name) => rows.map((row) => row.values[name] ?? null))
    const selected = columns.map((name, index) => fromText(`u.c${index}`, resolved.catalog.columns.get(name)!, name === receivedAtColumn))
    let statement = `INSERT INTO ${names.qualifiedTable} (${columns.map(quoteIdentifier).join(', ')})
SELECT ${selected.join(', ')} FROM unnest(${columns.map((_, index) => `$${index + 1}::text[]`).join(', ')}) AS u(${columns.map((_, index) => `c${index}`).join(', ')})`
    if (resolved.conflictTarget !== undefined) statement += ` ON CONFLICT (${resolved.conflictTarget}) DO NOTHING`
    const announcing = options.announce !== undefined && resolved.returnedId !== undefined
    if (announcing) statement += ` RETURNING ${resolved.returnedId} AS id`
    // Repeated: the text varies only with which of the mapping's columns a batch fills, a handful of variants.
    const inserted = await adapter.query(statement, arrays, { repeated: true })
    if (announcing) options.announce!(inserted.map((row) => String(row.id)))
  }

  return {
    name: 'postgres',
    async write(incoming: Activity[], writeOptions?: SinkWriteOptions): Promise<SinkResult> {
      const signal = writeOptions?.signal
      const early = answeredWithoutWriting(incoming, signal)
      if (early) return early
      try {
        const rejected = await withTable(async (resolved) => {
          if (!resolved.idIndexReady) {
            // Without it, a retried batch would be stored twice: keep the batch until migrate() ran.
            throw new PostgresStoreError(`${names.qualifiedTable} has no unique index on where the mapping keeps the activity id yet; run migrate().`)
          }
          const screened = await screenBatch(adapter, names, incoming, options.tombstoneMs)
          const refused: RejectedActivity[] = [...screened.rejected]
          const rows: EncodedRow[] = []
          const receivedAt = new Date().toISOString()
          for (const activity of screened.batch) {
            if (!isUuid(activity?.id)) {
              refused.push({ id: String(activity?.id), error: 'id is not a UUID.' })
              continue
            }
            try {
              rows.push(await activityToRow(activity, mapping, resolved.catalog.columns, receivedAt))
            } catch (error) {
              refused.push({ id: activity.id, error: error instanceof Error ? error.message : String(error) })
            }
          }
          if (rows.length > 0) refused.push(...(await writeSplitting(rows, (part) => insert(resolved, part), signal)))
          return refused
        })
        return rejected.length > 0 ? { type: 'success', rejected } : { type: 'success' }
      } catch (caught) {
        // The table missing keeps the batch (the app may create it); a table that does not fit drops it.
        const failure = caught instanceof TableMismatchError ? new WriteFailure(caught.permanent ? 'permanent' : 'retryable', caught) : caught
        return failedWrite(failure, incoming?.length ?? 0, names.qualifiedTable, adapter.driver)
      }
    },
  }
}
