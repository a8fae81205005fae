import type { Activity } from '@usertracking/core'
import { PostgresStoreError } from './errors'

/**
 * The parts of an activity a mapping can place: its fields, and a few figures inside its objects
 * (`tokenUsage.total` → a `tokens_used` key, `tokenUsage.model` → a `model` column).
 */
export type MappedField =
  | 'id'
  | 'userId'
  | 'anonymousId'
  | 'sessionId'
  | 'activityType'
  | 'description'
  | 'timestamp'
  | 'endTime'
  | 'receivedAt'
  | 'durationMs'
  | 'status'
  | 'error'
  | 'tokenUsage'
  | 'context'
  | 'metadata'
  | 'cost'
  | 'tokenUsage.total'
  | 'tokenUsage.input'
  | 'tokenUsage.output'
  | 'tokenUsage.model'
  | 'cost.total'
  | 'context.page'
  | 'context.host'

/** Turns an activity's value into what is stored, or back; may be async (a lookup in the app's own tables). */
export type ValueConversion = (value: unknown) => unknown

/** A field kept in a column of its own. */
export interface ColumnPlace {
  /** The column's name, as is (it is quoted). */
  column: string
  /**
   * Converts the activity's value into what the column takes (`(userId) => Number(userId)` for an
   * integer key, or a lookup). Also applied to a filter's value before it is compared. Text fields
   * only: `userId`, `anonymousId`, `sessionId`, `activityType`, `description`, `status`, `error`,
   * `tokenUsage.model`, `context.page`, `context.host`.
   */
  write?: ValueConversion
  /** Converts the column's value (as JSON gives it: a number, a string) back into the activity's. */
  read?: ValueConversion
}

/** A field kept under a key of the mapping's JSON column (`mapping.json`). */
export interface KeyPlace {
  /** The key, at the top level of the JSON column. */
  key: string
  /** As {@link ColumnPlace.write}. */
  write?: ValueConversion
  /** As {@link ColumnPlace.read}. */
  read?: ValueConversion
}

/**
 * Where a field lives: a column name, a column with conversions, a key of the JSON column, or
 * `false` for a field the table does not keep at all (reads that need it are refused).
 */
export type FieldPlace = string | ColumnPlace | KeyPlace | false

/**
 * How activities map onto a table the app already has (`postgresStore({ table, mapping })`).
 *
 * Each field named in `fields` is kept in its column, or under its key of the `json` column, or not
 * at all (`false`). Fields without a place are kept in the `json` column under their own name
 * (`description`, `tokenUsage`, `id`, …), except `metadata`, whose keys are spread at the top level
 * of it (the `details` JSONB most apps already have). Without `json`, fields without a place are not
 * stored.
 *
 * The activity id makes delivery idempotent: wherever it is kept (a column, or a key, by default
 * the key `id` of `json`), `migrate()` creates a unique index on it and a retried batch is not stored
 * twice. With no place for it at all, delivery into the table is at-least-once.
 *
 * @example
 * ```ts
 * // activity (id SERIAL PRIMARY KEY, user_id INTEGER, action VARCHAR(100) NOT NULL, details JSONB, created_at TIMESTAMP)
 * postgresStore({
 *   client: pool,
 *   table: 'activity',
 *   mapping: {
 *     fields: {
 *       userId: { column: 'user_id', write: (id) => Number(id), read: (id) => String(id) },
 *       activityType: 'action',
 *       timestamp: 'created_at',
 *       sessionId: { key: 'session_id' },
 *       'tokenUsage.total': { key: 'tokens_used' },
 *       'tokenUsage.model': { key: 'model' },
 *     },
 *     json: 'details',
 *   },
 * })
 * ```
 */
export interface ActivityMapping {
  /** Where each field lives. `activityType` and `timestamp` need a place unless `json` is set. */
  fields: Partial<Record<MappedField, FieldPlace>>
  /** The `jsonb` (or `json`) column that keeps every field without a place, and metadata's keys. */
  json?: string
  /**
   * The last word on each row before it is written: receives the activity and the row the mapping
   * built (column name → value) and returns the row to write (it may fill columns the mapping does
   * not know). Reads do not see what it changed; filters use the mapping's places.
   */
  toRow?: (activity: Activity, row: Record<string, unknown>) => Record<string, unknown> | Promise<Record<string, unknown>>
  /**
   * The last word on each activity read: receives the row as stored (column name → value, as JSON
   * gives it) and the activity the mapping built, and returns the activity.
   */
  fromRow?: (row: Record<string, unknown>, activity: Activity) => Activity | Promise<Activity>
}

/** The fields whose values are text, the only ones a place may convert. */
export const TEXT_FIELDS: readonly MappedField[] = [
  'userId',
  'anonymousId',
  'sessionId',
  'activityType',
  'description',
  'status',
  'error',
  'tokenUsage.model',
  'context.page',
  'context.host',
]

/** What kind of value each field holds, which decides the columns it fits and how it is compared. */
export type FieldKind = 'text' | 'time' | 'number' | 'object'

const KINDS: Record<MappedField, FieldKind> = {
  id: 'text',
  userId: 'text',
  anonymousId: 'text',
  sessionId: 'text',
  activityType: 'text',
  description: 'text',
  timestamp: 'time',
  endTime: 'time',
  receivedAt: 'time',
  durationMs: 'number',
  status: 'text',
  error: 'text',
  tokenUsage: 'object',
  context: 'object',
  metadata: 'object',
  cost: 'object',
  'tokenUsage.total': 'number',
  'tokenUsage.input': 'number',
  'tokenUsage.output': 'number',
  'tokenUsage.model': 'text',
  'cost.total': 'number',
  'context.page': 'text',
  'context.host': 'text',
}

/** The top-level fields of an activity, in the order a row is built. */
export const TOP_FIELDS = Object.keys(KINDS).filter((field) => !field.includes('.')) as MappedField[]

/** One placed field, checked. */
export interface Place {
  field: MappedField
  /** The path in the activity: `['tokenUsage', 'total']`. */
  path: string[]
  kind: FieldKind
  /** A column of its own, or a key of the JSON column. */
  in: 'column' | 'key'
  name: string
  write: ValueConversion | undefined
  read: ValueConversion | undefined
}

/** A mapping checked and resolved: every field's place, and what goes to the JSON column. */
export interface CompiledMapping {
  places: Map<MappedField, Place>
  json: string | undefined
  /** Top-level fields kept in the JSON column under their own name. */
  folded: MappedField[]
  /** Fields the table does not keep (`false`). */
  dropped: Set<MappedField>
  /** Keys of the JSON column that are not metadata's. */
  claimedKeys: Set<string>
  toRow: ActivityMapping['toRow']
  fromRow: ActivityMapping['fromRow']
}

/** The kind of value a field holds. */
export function kindOf(field: MappedField): FieldKind {
  return KINDS[field]
}

function fail(message: string): never {
  throw new PostgresStoreError(message)
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && !value.includes('\u0000')
}

/** Checks a mapping, with errors naming the option at fault (`options.mapping.fields.userId …`). */
export function compileMapping(mapping: ActivityMapping): CompiledMapping {
  if (typeof mapping !== 'object' || mapping === null) fail('options.mapping must be an object with fields.')
  const { fields, json, toRow, fromRow } = mapping
  if (typeof fields !== 'object' || fields === null) fail('options.mapping.fields must be an object naming where each field lives.')
  if (json !== undefined && !nonEmpty(json)) fail('options.mapping.json must be the name of a jsonb column.')
  if (toRow !== undefined && typeof toRow !== 'function') fail('options.mapping.toRow must be a function.')
  if (fromRow !== undefined && typeof fromRow !== 'function') fail('options.mapping.fromRow must be a function.')
  const places = new Map<MappedField, Place>()
  const dropped = new Set<MappedField>()
  const columns = new Map<string, string>()
  const keys = new Map<string, string>()
  for (const [field, place] of Object.entries(fields) as [MappedField, FieldPlace | undefined][]) {
    const option = `options.mapping.fields['${field}']`
    if (!Object.hasOwn(KINDS, field)) fail(`${option} is not a field a mapping can place; see MappedField.`)
    if (place === undefined) continue
    if (place === false) {
      if (field === 'activityType' || field === 'timestamp') fail(`${option} cannot be false: every activity has one.`)
      dropped.add(field)
      continue
    }
    const spec = typeof place === 'string' ? { column: place } : place
    if (typeof spec !== 'object' || spec === null) fail(`${option} must be a column name, { column }, or { key }.`)
    const column = (spec as ColumnPlace).column
    const key = (spec as KeyPlace).key
    if ((column === undefined) === (key === undefined)) fail(`${option} must name exactly one of column or key.`)
    const name = column ?? key
    if (!nonEmpty(name)) fail(`${option} must name a non-empty ${column !== undefined ? 'column' : 'key'}.`)
    const { write, read } = spec as ColumnPlace
    for (const [which, conversion] of [['write', write], ['read', read]] as const) {
      if (conversion !== undefined && typeof conversion !== 'function') fail(`${option}.${which} must be a function.`)
    }
    if ((write || read) && field === 'id') fail(`${option} cannot convert values: the activity id is kept as it is, in a text or uuid column or a key.`)
    if ((write || read) && !TEXT_FIELDS.includes(field)) {
      fail(`${option} cannot convert values: only text fields (${TEXT_FIELDS.join(', ')}) can; use toRow / fromRow for the others.`)
    }
    const taken = column !== undefined ? columns : keys
    if (taken.has(name)) fail(`${option} and options.mapping.fields['${taken.get(name)}'] both use ${column !== undefined ? 'column' : 'key'} ${name}.`)
    taken.set(name, field)
    if (column !== undefined && column === json) fail(`${option} uses the column options.mapping.json keeps the other fields in.`)
    if (key !== undefined && json === undefined) fail(`${option} names a key, which needs options.mapping.json (the jsonb column it is kept in).`)
    places.set(field, { field, path: field.split('.'), kind: KINDS[field], in: column !== undefined ? 'column' : 'key', name, write, read })
  }
  for (const place of places.values()) {
    if (place.path.length === 2 && places.has(place.path[0] as MappedField)) {
      fail(`options.mapping.fields['${place.field}'] and options.mapping.fields['${place.path[0]}'] both place ${place.field}; keep one.`)
    }
  }
  for (const required of ['activityType', 'timestamp'] as const) {
    if (!places.has(required) && json === undefined) fail(`options.mapping.fields.${required} must name a column (or set options.mapping.json).`)
  }
  const folded = json === undefined ? [] : TOP_FIELDS.filter((field) => field !== 'metadata' && !places.has(field) && !dropped.has(field))
  const claimedKeys = new Set<string>([...folded, ...keys.keys()])
  for (const field of folded) {
    if (keys.has(field)) fail(`options.mapping.fields['${keys.get(field)}'] uses the key ${field}, where the ${field} field is kept; name another key.`)
  }
  return { places, json, folded, dropped, claimedKeys, toRow, fromRow }
}
