import { isUuid, type Activity, type RejectedActivity, type Sink, type SinkResult, type SinkWriteOptions } from '@usertracking/core'
import { answeredWithoutWriting, failedWrite, WriteFailure, writeSplitting } from './batch-split'
import type { PostgresAdapter } from './client-adapter'
import { PostgresStoreError } from './errors'
import { DELETED_BEFORE_DELIVERY, screenBatch, tombstoneJoin } from './identity'
import { escapeText } from './nul-escape'
import { toTimestampText } from './time'
import { activityToRow, type EncodedRow } from './mapped-rows'
import { TableMismatchError, type ResolvedTable } from './mapped-shape'
import type { CompiledMapping } from './mapping'
import { quoteIdentifier, type SqlNames } from './sql-names'
import type { CatalogColumn } from './table-catalog'

/** An activity's row, with what the one-statement path screens it by. */
interface ScreenedRow {
  /** For `writeSplitting`, which reports refused rows by id. */
  id: string
  row: EncodedRow
  /** The user and anonymous ids, escaped as tombstones hash them; null when absent. */
  user: string | null
  anonymous: string | null
  /** When it was tracked, as PostgreSQL reads a timestamp; null when it does not parse (never refused as deleted). */
  trackedAt: string | null
}

function screeningOf(activity: Activity): Omit<ScreenedRow, 'row'> {
  const at = Date.parse(activity.timestamp)
  return {
    id: activity.id,
    user: typeof activity.userId === 'string' ? escapeText(activity.userId) : null,
    anonymous: typeof activity.anonymousId === 'string' ? escapeText(activity.anonymousId) : null,
    trackedAt: Number.isFinite(at) ? toTimestampText(at) : null,
  }
}

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
 * Batches of fewer activities are screened for deletions inside the insert, one statement; larger
 * ones by a screening query first. A mapped table has neither the SDK table's ingest function nor
 * its COPY, so this keeps the threshold the SDK's own table was measured with before it had them.
 */
export const INLINE_SCREEN_MAX_ROWS = 8

/** Most statement texts one mapped sink lets the store keep prepared on each connection. */
const MAX_PREPARED_TEXTS = 32

/**
 * The batch writer into a mapped table: one `INSERT … SELECT FROM unnest(…)` per batch (every
 * column a `text[]` parameter, cast to the column's type in SQL), so a batch of any size is one
 * statement. A small batch (under {@link INLINE_SCREEN_MAX_ROWS}) is screened for
 * deletions in that statement too, one round trip in all, unless an activity in it is a visitor's
 * without a user: the user it was linked to goes through the mapping's conversion in this process,
 * so that batch, like a larger one, is screened by a query first ({@link screenBatch}). With a
 * place for the activity id, `ON CONFLICT (<it>) DO NOTHING` makes a retry store nothing twice;
 * without one, delivery is at-least-once. Data errors split the batch as in the SDK's own table; a
 * conversion that throws rejects its activity alone. A column found gone makes `withTable` read
 * the catalog again and the batch is built and written once more.
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

  // The statement texts this sink lets the store prepare (with `prepareStatements`). A text varies
  // with which of the mapping's optional columns a batch fills; past MAX_PREPARED_TEXTS distinct
  // ones, the rest run unprepared, so no connection holds more than that many of this sink's.
  const prepared = new Set<string>()
  function repeated(text: string): boolean {
    if (prepared.has(text)) return true
    if (prepared.size >= MAX_PREPARED_TEXTS) return false
    prepared.add(text)
    return true
  }

  /** The INSERT of `rows` into the mapped table: its column list, the SELECT list over `alias`'s `c<n>` columns, and their `text[]` arrays. */
  function insertParts(resolved: ResolvedTable, rows: readonly EncodedRow[], alias: string) {
    // In the catalog's order, whatever order the rows fill them in: the statement's text then
    // varies only with which columns a batch fills, not with the order it met them.
    const columns = [...resolved.catalog.columns.keys()].filter((name) => rows.some((row) => Object.hasOwn(row.values, name)))
    return {
      columns,
      arrays: columns.map((name) => rows.map((row) => row.values[name] ?? null)),
      into: `INSERT INTO ${names.qualifiedTable} (${columns.map(quoteIdentifier).join(', ')})`,
      selected: columns.map((name, index) => fromText(`${alias}.c${index}`, resolved.catalog.columns.get(name)!, name === receivedAtColumn)).join(', '),
      conflict: resolved.conflictTarget === undefined ? '' : ` ON CONFLICT (${resolved.conflictTarget}) DO NOTHING`,
    }
  }

  async function insert(resolved: ResolvedTable, rows: readonly EncodedRow[]): Promise<void> {
    const { columns, arrays, into, selected, conflict } = insertParts(resolved, rows, 'u')
    let statement = `${into}
SELECT ${selected} FROM unnest(${columns.map((_, index) => `$${index + 1}::text[]`).join(', ')}) AS u(${columns.map((_, index) => `c${index}`).join(', ')})${conflict}`
    const announcing = options.announce !== undefined && resolved.returnedId !== undefined
    if (announcing) statement += ` RETURNING ${resolved.returnedId} AS id`
    const inserted = await adapter.query(statement, arrays, { repeated: repeated(statement) })
    if (announcing) options.announce!(inserted.map((row) => String(row.id)))
  }

  /**
   * A small batch that needs no identity link: screened for deletions and inserted in one
   * statement, as the SDK's own table does (`screenedInsertSql`), instead of a screening query
   * first. Beside the columns' arrays go each activity's id, its user and anonymous ids (escaped,
   * as tombstones hash them) and its timestamp; answers the refused activities' ids, and with
   * `announce` the stored ones.
   */
  async function insertScreened(resolved: ResolvedTable, rows: readonly ScreenedRow[], refused: RejectedActivity[]): Promise<void> {
    const { columns, arrays, into, selected, conflict } = insertParts(resolved, rows.map((screened) => screened.row), 'i')
    const n = columns.length
    const window = `$${n + 5}`
    const announcing = options.announce !== undefined && resolved.returnedId !== undefined
    const statement = `WITH input AS (
  SELECT u.*, greatest(du.deleted_at, da.deleted_at) AS deleted_at
  FROM unnest(${[...columns.map((_, index) => `$${index + 1}::text[]`), `$${n + 1}::text[]`, `$${n + 2}::text[]`, `$${n + 3}::text[]`, `$${n + 4}::text[]`].join(', ')})
    WITH ORDINALITY AS u(${[...columns.map((_, index) => `c${index}`), 'activity_id', 'screened_user', 'screened_anonymous', 'tracked_at', 'ordinal'].join(', ')})
  ${tombstoneJoin(names, 'du', 'user', 'u.screened_user', window)}
  ${tombstoneJoin(names, 'da', 'anonymous', 'u.screened_anonymous', window)}
), stored AS (
  ${into}
  SELECT ${selected} FROM input AS i
  WHERE i.deleted_at IS NULL OR i.tracked_at IS NULL OR i.tracked_at::timestamptz > i.deleted_at
  ORDER BY i.ordinal${conflict}${announcing ? `\n  RETURNING ${resolved.returnedId} AS id` : ''}
)
SELECT activity_id AS id, true AS deleted FROM input WHERE tracked_at::timestamptz <= deleted_at${announcing ? '\nUNION ALL SELECT id::text, false FROM stored' : ''}`
    const answered = await adapter.query(
      statement,
      [
        ...arrays,
        rows.map((screened) => screened.row.id),
        rows.map((screened) => screened.user),
        rows.map((screened) => screened.anonymous),
        rows.map((screened) => screened.trackedAt),
        options.tombstoneMs,
      ],
      { repeated: repeated(statement) },
    )
    const stored: string[] = []
    for (const row of answered) {
      if (row.deleted === true) refused.push({ id: String(row.id), error: DELETED_BEFORE_DELIVERY })
      else stored.push(String(row.id))
    }
    if (announcing) options.announce!(stored)
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
          // A visitor's activity without a user may need the user its visitor was linked to, which
          // the mapping converts in this process: those batches are screened by a query first.
          const inline = incoming.length < INLINE_SCREEN_MAX_ROWS && !incoming.some((activity) => activity?.userId === undefined && typeof activity?.anonymousId === 'string')
          const screened = inline ? { batch: incoming, rejected: [] } : await screenBatch(adapter, names, incoming, options.tombstoneMs)
          const refused: RejectedActivity[] = [...screened.rejected]
          const rows: ScreenedRow[] = []
          const receivedAt = new Date().toISOString()
          for (const activity of screened.batch) {
            if (!isUuid(activity?.id)) {
              refused.push({ id: String(activity?.id), error: 'id is not a UUID.' })
              continue
            }
            try {
              rows.push({ row: await activityToRow(activity, mapping, resolved.catalog.columns, receivedAt), ...screeningOf(activity) })
            } catch (error) {
              refused.push({ id: activity.id, error: error instanceof Error ? error.message : String(error) })
            }
          }
          if (rows.length > 0) {
            const write = inline
              ? (part: readonly ScreenedRow[]) => insertScreened(resolved, part, refused)
              : (part: readonly ScreenedRow[]) => insert(resolved, part.map((screenedRow) => screenedRow.row))
            refused.push(...(await writeSplitting(rows, write, signal)))
          }
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
