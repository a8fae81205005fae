import { isUuid, type StatsGroupKey } from '@usertracking/core'
import type { Row } from './client-adapter'
import { invalidQuery, PostgresStoreError } from './errors'
import type { IdentityTarget } from './identity'
import { rowToActivity } from './mapped-rows'
import type { CompiledMapping, MappedField } from './mapping'
import { quoteIdentifier, type SqlNames } from './sql-names'
import { misfit, type CatalogColumn, type TableCatalog } from './table-catalog'
import type { EqualityField, TableShape } from './table-shape'
import { epochMicrosSql } from './time'

/** The alias of the mapped table in reads, so a whole row can be selected as JSON. */
const ROW = 'usertracking_row'
const MAX_DOUBLE = '1.7976931348623157e308'

/** A part of an activity located in the table: a typed column, or a `jsonb` expression. */
type Located = { sql: string; column: CatalogColumn } | { sql: string; column?: undefined }

/** A mapped table once its catalog was read and checked. */
export interface ResolvedTable {
  catalog: TableCatalog
  shape: TableShape
  identity: IdentityTarget
  /** `ON CONFLICT (…)` target keeping the activity id unique; `undefined` when the table keeps no id. */
  conflictTarget: string | undefined
  /** Whether the unique index the conflict target needs exists (`migrate()` creates it). */
  idIndexReady: boolean
  /** The inserted row's activity id as text, for RETURNING. */
  returnedId: string | undefined
  /** The statement creating the unique index on the activity id, when it is missing. */
  idIndexStatement: string | undefined
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`
}

/**
 * A mapped table that does not fit its mapping. `permanent` unless the table is missing altogether
 * (the app may not have created it yet): a write into it can never work until the app changes it.
 */
export class TableMismatchError extends PostgresStoreError {
  override name = 'TableMismatchError'
  constructor(
    message: string,
    /** Whether writes can never succeed as things are. */
    readonly permanent: boolean,
  ) {
    super(message)
  }
}

const INTEGER_LIMITS: Record<string, bigint> = { smallint: 32_767n, integer: 2_147_483_647n, bigint: 9_223_372_036_854_775_807n }

/** Whether `text` is a whole number a column of this integer type holds (a bigger one would fail in the database). */
function fitsInteger(text: string, type: string): boolean {
  if (!/^-?\d{1,19}$/.test(text)) return false
  const limit = INTEGER_LIMITS[type] ?? INTEGER_LIMITS.bigint!
  const value = BigInt(text)
  return value <= limit && value >= -limit - 1n
}

function fail(message: string, permanent = true): never {
  throw new TableMismatchError(message, permanent)
}

/** Checks the table against the mapping (naming the first column at fault) and builds how to read and write it. */
export function resolveMappedTable(catalog: TableCatalog | undefined, mapping: CompiledMapping, names: SqlNames): ResolvedTable {
  const table = names.qualifiedTable
  if (!catalog) fail(`The table ${table} does not exist. A mapped table is the app's own: migrate() checks it but never creates it.`, false)
  const column = (name: string, option: string): CatalogColumn =>
    catalog.columns.get(name) ?? fail(`${option} names the column ${name}, which ${table} does not have.`)
  for (const place of mapping.places.values()) {
    if (place.in !== 'column') continue
    const option = `options.mapping.fields['${place.field}']`
    const why = misfit(column(place.name, option), place.kind, place.write !== undefined, place.field === 'id')
    if (why) fail(`${option}: the column ${place.name} of ${table} ${why}.`)
  }
  const jsonColumn = mapping.json === undefined ? undefined : column(mapping.json, 'options.mapping.json')
  if (jsonColumn && (jsonColumn.category !== 'json' || jsonColumn.generated)) {
    fail(`options.mapping.json: the column ${jsonColumn.name} of ${table} is of type ${jsonColumn.type}; it must be a writable jsonb or json column.`)
  }
  if (!mapping.toRow) {
    const written = new Set([...[...mapping.places.values()].filter((place) => place.in === 'column').map((place) => place.name), ...(mapping.json ? [mapping.json] : [])])
    for (const each of catalog.columns.values()) {
      if (each.notNull && !each.filled && !written.has(each.name)) {
        fail(`The column ${each.name} of ${table} is NOT NULL without a default, and the mapping writes nothing into it: give it a place in options.mapping.fields, or fill it in options.mapping.toRow.`)
      }
    }
  }

  const json = jsonColumn ? (jsonColumn.type === 'jsonb' ? quoteIdentifier(jsonColumn.name) : `to_jsonb(${quoteIdentifier(jsonColumn.name)})`) : undefined
  const asJsonb = (located: Located) => (located.column === undefined ? located.sql : located.column.type === 'jsonb' ? located.sql : `to_jsonb(${located.sql})`)
  const locate = (path: readonly string[]): Located | undefined => {
    const field = path.join('.') as MappedField
    if (mapping.dropped.has(field)) return undefined
    const place = mapping.places.get(field)
    if (place) return place.in === 'column' ? { sql: quoteIdentifier(place.name), column: catalog.columns.get(place.name)! } : { sql: `(${json} -> ${literal(place.name)})` }
    if (path.length === 2) {
      const parent = locate([path[0]!])
      return parent && { sql: `(${asJsonb(parent)} -> ${literal(path[1]!)})` }
    }
    return json && mapping.folded.includes(field) ? { sql: `(${json} -> ${literal(field)})` } : undefined
  }
  const text = (located: Located | undefined) => located && (located.column ? located.sql : `(${located.sql} #>> '{}')`)
  const number = (located: Located | undefined) => {
    if (!located) return undefined
    if (!located.column) {
      return `CASE WHEN jsonb_typeof(${located.sql}) = 'number' THEN LEAST(GREATEST((${located.sql} #>> '{}')::numeric, -${MAX_DOUBLE}), ${MAX_DOUBLE})::float8 END`
    }
    // A numeric column can hold more than a double; integers and floats convert as they are.
    return located.column.type.startsWith('numeric') ? `LEAST(GREATEST(${located.sql}, -${MAX_DOUBLE}), ${MAX_DOUBLE})::float8` : `${located.sql}::float8`
  }
  const numeric = (located: Located | undefined) => {
    if (!located) return undefined
    if (!located.column) return `CASE WHEN jsonb_typeof(${located.sql}) = 'number' THEN (${located.sql} #>> '{}')::numeric END`
    if (located.column.category === 'integer' || located.column.type.startsWith('numeric')) return `${located.sql}::numeric`
    // A float column may hold NaN or ±Infinity (written by hand): left out, or clamped, before the numeric sum.
    return `CASE WHEN ${located.sql} IS NULL OR ${located.sql} = 'NaN' THEN NULL ELSE LEAST(GREATEST(${located.sql}, -${MAX_DOUBLE}), ${MAX_DOUBLE})::numeric END`
  }
  const time = (located: Located | undefined) => {
    if (!located) return undefined
    if (located.column) return located.column.category === 'timestamp' ? `(${located.sql} AT TIME ZONE 'UTC')` : located.sql
    // Only ISO 8601 strings are read as times; anything else in the key is no time at all.
    return `CASE WHEN jsonb_typeof(${located.sql}) = 'string' AND (${located.sql} #>> '{}') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}' THEN (${located.sql} #>> '{}')::timestamptz END`
  }
  const key = (located: Located | undefined) => located && `NULLIF(${asJsonb(located)}, 'null'::jsonb)::text`
  const stringKey = (located: Located | undefined) => located && `CASE WHEN jsonb_typeof(${asJsonb(located)}) = 'string' THEN ${asJsonb(located)}::text END`

  // Paging needs a total order: the primary key, or the activity id in a unique column.
  const idPlace = mapping.places.get('id')
  const tieName = catalog.primaryKey ?? (idPlace?.in === 'column' && catalog.uniqueColumns.has(idPlace.name) ? idPlace.name : undefined)
  if (tieName === undefined) fail(`The table ${table} needs a single-column primary key (or the activity id in a column with a unique index) so that reads can page through it.`)
  const tie = catalog.columns.get(tieName)!
  const accepts =
    tie.category === 'integer'
      ? (value: string) => fitsInteger(value, tie.type)
      : tie.category === 'uuid'
        ? isUuid
        : tie.category === 'text'
          ? (value: string) => value.length <= 10_000 && !value.includes('\u0000')
          : undefined
  if (!accepts) fail(`The primary key ${tieName} of ${table} is of type ${tie.type}; paging needs an integer, uuid or text key.`)

  const timestamp = time(locate(['timestamp']))!
  const endTime = time(locate(['endTime']))
  const receivedAt = time(locate(['receivedAt']))
  const durationMs = number(locate(['durationMs']))
  const totalTokens = number(locate(['tokenUsage', 'total']))
  const located: Partial<Record<EqualityField, Located>> = {}
  for (const field of ['userId', 'anonymousId', 'sessionId', 'activityType', 'status'] as const) {
    const found = locate([field])
    if (found) located[field] = found
  }
  const equality: TableShape['equality'] = {}
  for (const [field, found] of Object.entries(located) as [EqualityField, Located][]) equality[field] = text(found)

  async function stored(field: EqualityField, value: string): Promise<{ value: unknown; cast: string }> {
    const place = mapping.places.get(field)
    const found = located[field]
    let converted: unknown = value
    if (place?.write) {
      try {
        converted = await place.write(value)
      } catch (error) {
        throw invalidQuery(`${field} ${JSON.stringify(value)} cannot be converted for ${place.in} ${place.name}: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
    if (!found?.column) {
      // A JSON key is compared as text; PostgreSQL stores no NUL in a jsonb string, so none can match.
      const asText = typeof converted === 'string' ? converted : JSON.stringify(converted)
      if (asText.includes('\u0000')) throw invalidQuery(`${field} cannot hold a NUL character in the JSON column.`)
      return { value: asText, cast: '' }
    }
    const target = found.column
    if (typeof converted === 'string' && converted.includes('\u0000')) throw invalidQuery(`${field} cannot hold a NUL character in ${target.name}.`)
    const fits =
      target.category === 'integer'
        ? (typeof converted === 'number' || typeof converted === 'bigint' || typeof converted === 'string') && fitsInteger(String(converted), target.type)
        : target.category === 'uuid'
          ? isUuid(converted)
          : target.category === 'decimal'
            ? Number.isFinite(Number(converted))
            : true
    if (!fits) throw invalidQuery(`${field} ${JSON.stringify(value)} does not fit the column ${target.name} (${target.type}) it is compared with.`)
    return { value: typeof converted === 'string' ? converted : String(converted), cast: target.castFromText ? `::${target.type}` : '' }
  }

  const userKey = key(locate(['userId']))
  const anonymousKey = key(locate(['anonymousId']))
  const visitorParts = [userKey && `'u' || ${userKey}`, anonymousKey && `'a' || ${anonymousKey}`].filter((part) => part !== undefined)
  const groupKeys: TableShape['groupKeys'] = {
    user: userKey,
    // Tagged with where the key came from, so it can be read back through the right conversion.
    visitor: visitorParts.length === 0 ? undefined : `coalesce(${visitorParts.join(', ')})`,
    activityType: key(located.activityType),
    page: stringKey(locate(['context', 'page'])),
    host: stringKey(locate(['context', 'host'])),
  }
  const asString = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value))
  const readBack = async (field: MappedField, jsonText: string) => {
    const value: unknown = JSON.parse(jsonText)
    const read = mapping.places.get(field)?.read
    return asString(read ? await read(value) : value)
  }
  async function groupKeyValue(per: StatsGroupKey, keyText: string): Promise<string> {
    if (per === 'visitor') return readBack(keyText.startsWith('u') ? 'userId' : 'anonymousId', keyText.slice(1))
    if (per === 'user') return readBack('userId', keyText)
    if (per === 'activityType') return readBack('activityType', keyText)
    return asString(JSON.parse(keyText))
  }

  const idLocated = locate(['id'])
  const idText = idLocated && (idLocated.column ? `${idLocated.sql}::text` : `(${quoteIdentifier(mapping.json!)} ->> ${literal(idPlace?.in === 'key' ? idPlace.name : 'id')})`)
  const idColumn = idLocated?.column
  const conflictTarget = idLocated === undefined ? undefined : idColumn ? idLocated.sql : `(${idText})`
  const idIndexReady = idLocated === undefined || (idColumn ? catalog.uniqueColumns.has(idColumn.name) : catalog.indexes.has(`${names.table}_ut_id_idx`))
  const idIndexStatement =
    idLocated === undefined || idIndexReady ? undefined : `CREATE UNIQUE INDEX IF NOT EXISTS ${names.activityIdIndex} ON ${table} (${conflictTarget})`

  const shape: TableShape = {
    qualifiedTable: `${table} AS ${ROW}`,
    selectList: `to_jsonb(${ROW})::text AS ut_row, ${quoteIdentifier(tieName)}::text AS ut_key, ${epochMicrosSql(timestamp)} AS ut_at,
  ${endTime ? epochMicrosSql(endTime) : 'NULL::text'} AS ut_end, ${receivedAt ? epochMicrosSql(receivedAt) : 'NULL::text'} AS ut_received,
  ${durationMs ?? 'NULL::float8'} AS ut_duration, ${totalTokens ?? 'NULL::float8'} AS ut_tokens`,
    toActivity: (row: Row) =>
      rowToActivity(JSON.parse(String(row.ut_row)) as Record<string, unknown>, { timestamp: row.ut_at, endTime: row.ut_end, receivedAt: row.ut_received }, String(row.ut_key), mapping),
    equality,
    equalityParam: stored,
    timestamp,
    receivedAt,
    durationMs,
    totalTokens,
    inputTokens: numeric(locate(['tokenUsage', 'input'])),
    outputTokens: numeric(locate(['tokenUsage', 'output'])),
    costTotal: numeric(locate(['cost', 'total'])),
    costUnpriced: (() => {
      const cost = locate(['cost'])
      return cost && `(${asJsonb(cost)} -> 'unpriced') = 'true'::jsonb`
    })(),
    groupKeys,
    groupKeyValue,
    tieBreaker: { sql: quoteIdentifier(tieName), cast: `::${tie.type}`, accepts },
    positionAliases: { tieBreaker: 'ut_key', timestampMicros: 'ut_at', durationMs: 'ut_duration', totalTokens: 'ut_tokens' },
    activityId: idLocated && { sql: idColumn ? idLocated.sql : `(${idText})`, arrayCast: idColumn?.category === 'uuid' ? '::uuid[]' : '::text[]' },
  }

  const userPlace = mapping.places.get('userId')
  const identity: IdentityTarget = {
    table,
    rowKey: quoteIdentifier(tieName),
    user: equality.userId === undefined ? undefined : { sql: equality.userId, store: (value) => stored('userId', value) },
    anonymous: equality.anonymousId === undefined ? undefined : { sql: equality.anonymousId, store: (value) => stored('anonymousId', value) },
    linkColumn: userPlace?.in === 'column' ? quoteIdentifier(userPlace.name) : { refused: 'it needs the userId in a column of its own (see options.mapping.fields)' },
  }
  return { catalog, shape, identity, conflictTarget, idIndexReady, returnedId: idText, idIndexStatement }
}

