import type { PostgresConnection } from './client-adapter'
import type { FieldKind } from './mapping'

/** What a column's type is for, as far as the store cares. */
export type ColumnCategory = 'text' | 'uuid' | 'integer' | 'decimal' | 'timestamptz' | 'timestamp' | 'json' | 'boolean' | 'other'

/** One column of an existing table. */
export interface CatalogColumn {
  name: string
  /** The type as SQL spells it (`character varying(100)`), for casts. */
  type: string
  category: ColumnCategory
  /** Whether text must be cast to the type explicitly: string types take it by assignment (which also checks their length). */
  castFromText: boolean
  notNull: boolean
  /** It has a default, is an identity, or is generated: an INSERT may leave it out. */
  filled: boolean
  generated: boolean
}

/** An existing table, as the catalog describes it. */
export interface TableCatalog {
  columns: Map<string, CatalogColumn>
  /** The single-column primary key, if the table has one. */
  primaryKey: string | undefined
  /** Columns with a unique index of their own (no expression, no predicate). */
  uniqueColumns: Set<string>
  /** Names of the table's indexes. */
  indexes: Set<string>
}

function categoryOf(base: string, kind: string): ColumnCategory {
  if (kind === 'e') return 'text'
  switch (base) {
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'citext':
    case 'name':
      return 'text'
    case 'uuid':
      return 'uuid'
    case 'int2':
    case 'int4':
    case 'int8':
      return 'integer'
    case 'numeric':
    case 'float4':
    case 'float8':
      return 'decimal'
    case 'timestamptz':
      return 'timestamptz'
    case 'timestamp':
      return 'timestamp'
    case 'json':
    case 'jsonb':
      return 'json'
    case 'bool':
      return 'boolean'
    default:
      return 'other'
  }
}

/** Reads a table's columns, primary key and unique indexes; `undefined` when there is no such table. */
export async function readCatalog(connection: PostgresConnection, qualifiedTable: string): Promise<TableCatalog | undefined> {
  const columns = await connection.query(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, coalesce(base.typname, t.typname) AS base, t.typtype AS kind,
  a.attnotnull AS notnull, (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS filled, a.attgenerated <> '' AS generated
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type base ON t.typtype = 'd' AND base.oid = t.typbasetype
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [qualifiedTable],
  )
  if (columns.length === 0) return undefined
  const indexes = await connection.query(
    `SELECT c.relname AS name, i.indisprimary AS primary, i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL AND i.indnatts = 1 AS single,
  (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0]) AS first
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass($1)`,
    [qualifiedTable],
  )
  const catalog: TableCatalog = { columns: new Map(), primaryKey: undefined, uniqueColumns: new Set(), indexes: new Set() }
  for (const row of columns) {
    const name = String(row.name)
    catalog.columns.set(name, {
      name,
      type: String(row.type),
      category: categoryOf(String(row.base), String(row.kind)),
      castFromText: !['text', 'varchar', 'bpchar', 'name'].includes(String(row.base)),
      notNull: row.notnull === true,
      filled: row.filled === true,
      generated: row.generated === true,
    })
  }
  for (const row of indexes) {
    catalog.indexes.add(String(row.name))
    if (row.single === true && row.first !== null) {
      catalog.uniqueColumns.add(String(row.first))
      if (row.primary === true) catalog.primaryKey = String(row.first)
    }
  }
  return catalog
}

/** The column categories a field of each kind can be kept in, without a conversion. */
const FITS: Record<FieldKind, readonly ColumnCategory[]> = {
  text: ['text'],
  time: ['timestamptz', 'timestamp'],
  number: ['integer', 'decimal'],
  object: ['json'],
}

/**
 * Why a field of `kind` cannot be kept in `column`, or `undefined` when it can. With a conversion
 * (text fields only) any type is accepted: the conversion is the app's promise to produce it.
 */
export function misfit(column: CatalogColumn, kind: FieldKind, converted: boolean, isId: boolean): string | undefined {
  if (column.generated) return 'is a generated column, which cannot be written'
  if (converted) return undefined
  if (FITS[kind].includes(column.category) || (isId && column.category === 'uuid')) return undefined
  return `is of type ${column.type}, which cannot hold a ${kind === 'object' ? 'JSON object' : kind} (expected ${FITS[kind].join(' or ')}${isId ? ' or uuid' : ''}${kind === 'text' ? ', or give the field a write / read conversion' : ''})`
}
