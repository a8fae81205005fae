import { isPlainObject, type Activity } from '@usertracking/core'
import { kindOf, TOP_FIELDS, type CompiledMapping, type Place } from './mapping'
import type { CatalogColumn } from './table-catalog'
import { microsToIso, toTimestampText } from './time'

/** One activity as a mapped table's row: each column's value as the text PostgreSQL casts from (null for NULL). */
export interface EncodedRow {
  id: string
  values: Record<string, string | null>
}

const OBJECT_FIELDS = ['tokenUsage', 'context', 'cost'] as const

function isEqual(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b)
}

function timeMs(value: unknown): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : typeof value === 'number' ? value : Number.NaN
  if (!Number.isFinite(ms)) throw new TypeError(`${String(value)} is not a valid date`)
  return ms
}

/** The text a column of `column`'s type is cast from. `rounded` rounds a number going into an integer column. */
function encode(value: unknown, column: CatalogColumn, rounded: boolean): string | null {
  if (value === undefined || value === null) return null
  switch (column.category) {
    case 'json':
      return JSON.stringify(value) ?? null
    case 'timestamptz':
    case 'timestamp':
      return toTimestampText(timeMs(value))
    case 'integer':
      return typeof value === 'number' && rounded ? String(Math.round(value)) : String(value)
    default:
      if (typeof value === 'string') return value
      if (value instanceof Date) return value.toISOString()
      if (typeof value === 'object') return JSON.stringify(value)
      return String(value)
  }
}

async function convert(place: Place, value: unknown): Promise<unknown> {
  if (!place.write) return value
  try {
    return await place.write(value)
  } catch (error) {
    throw new TypeError(`${place.field} could not be converted for ${place.in} ${place.name}: ${error instanceof Error ? error.message : String(error)}`)
  }
}

function valueAt(activity: Activity, path: readonly string[]): unknown {
  let value: unknown = activity
  for (const part of path) value = isPlainObject(value) ? (value as Record<string, unknown>)[part] : undefined
  return value
}

/**
 * Builds the row of `activity` in a mapped table: placed fields in their columns or keys, the rest
 * in the JSON column by name, metadata's keys spread there; then `toRow`. Throws a `TypeError`
 * saying why an activity cannot be stored (a conversion failed, a metadata key collides).
 */
export async function activityToRow(
  activity: Activity,
  mapping: CompiledMapping,
  columns: ReadonlyMap<string, CatalogColumn>,
  receivedAtNow: string,
): Promise<EncodedRow> {
  const row: Record<string, unknown> = {}
  const blob: Record<string, unknown> = {}
  // Each object field without a place keeps what its placed figures leave of it.
  const remainders: Record<string, Record<string, unknown>> = {}
  for (const field of OBJECT_FIELDS) {
    const value = activity[field]
    if (isPlainObject(value)) remainders[field] = { ...(value as Record<string, unknown>) }
  }
  for (const field of mapping.dropped) {
    const [parent, child] = field.split('.')
    if (child !== undefined) delete remainders[parent!]?.[child]
  }
  const withReceivedAt: Activity = activity.receivedAt === undefined ? { ...activity, receivedAt: receivedAtNow } : activity
  const rounded = new Set<string>()
  for (const place of mapping.places.values()) {
    if (place.path.length === 2) delete remainders[place.path[0]!]?.[place.path[1]!]
    // A receivedAt column stamps the database's now() when the activity has none.
    const value = place.field === 'receivedAt' && place.in === 'column' ? activity.receivedAt : valueAt(withReceivedAt, place.path)
    if (value === undefined || value === null) continue
    const stored = await convert(place, value)
    if (place.in === 'column') {
      row[place.name] = stored
      if (place.kind === 'number') rounded.add(place.name)
    } else blob[place.name] = stored
  }
  for (const field of mapping.folded) {
    const value = Object.hasOwn(remainders, field) ? remainders[field] : withReceivedAt[field as keyof Activity]
    // An object whose figures all have places of their own leaves nothing to fold.
    if (value === undefined || (isPlainObject(value) && Object.keys(value as object).length === 0)) continue
    blob[field] = value
  }
  if (mapping.json !== undefined && !mapping.places.has('metadata') && !mapping.dropped.has('metadata') && isPlainObject(activity.metadata)) {
    for (const [key, value] of Object.entries(activity.metadata as Record<string, unknown>)) {
      if (mapping.claimedKeys.has(key)) {
        if (blob[key] === undefined || !isEqual(blob[key], value)) {
          throw new TypeError(`metadata.${key} cannot be stored: the mapping keeps another field under the key ${key} of ${mapping.json}.`)
        }
        continue
      }
      blob[key] = value
    }
  }
  if (mapping.json !== undefined) row[mapping.json] = blob
  const finished = mapping.toRow ? await mapping.toRow(activity, row) : row
  const values: Record<string, string | null> = {}
  for (const [name, value] of Object.entries(finished)) {
    const column = columns.get(name)
    if (!column) throw new TypeError(`The row has a column ${name} that the table does not have.`)
    values[name] = encode(value, column, rounded.has(name))
  }
  return { id: activity.id, values }
}

function normalised(place: Pick<Place, 'kind'>, value: unknown): unknown {
  switch (place.kind) {
    case 'text':
      return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined
    case 'number': {
      const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN
      return Number.isFinite(number) ? number : undefined
    }
    case 'object':
      return isPlainObject(value) ? value : undefined
    default:
      return typeof value === 'string' ? value : undefined
  }
}

/** The times of a row, selected as exact epoch microseconds (text), or null. */
export interface RowTimes {
  timestamp: unknown
  endTime: unknown
  receivedAt: unknown
}

/**
 * Rebuilds the activity a mapped row holds (`row` as `to_jsonb` gives it); times come from
 * `times`, read in SQL. A row without an activity id (written by the app, or a table that keeps
 * none) gets `rowKey`, its primary key, as id. Then `fromRow`.
 */
export async function rowToActivity(row: Record<string, unknown>, times: RowTimes, rowKey: string, mapping: CompiledMapping): Promise<Activity> {
  const blob = mapping.json !== undefined && isPlainObject(row[mapping.json]) ? (row[mapping.json] as Record<string, unknown>) : {}
  const raw = (place: Place) => (place.in === 'column' ? row[place.name] : blob[place.name])
  const activity: Record<string, unknown> = {}
  const set = async (place: Pick<Place, 'kind' | 'read' | 'path'>, value: unknown) => {
    if (value === undefined || value === null) return
    const read = place.read ? await place.read(value) : value
    const clean = normalised(place, read)
    if (clean === undefined) return
    if (place.path.length === 1) activity[place.path[0]!] = clean
    else {
      const parent = (activity[place.path[0]!] ??= {}) as Record<string, unknown>
      parent[place.path[1]!] = clean
    }
  }
  for (const field of TOP_FIELDS) {
    if (field === 'timestamp' || field === 'endTime' || field === 'receivedAt') continue
    const place = mapping.places.get(field)
    if (place) await set(place, raw(place))
    else if (mapping.folded.includes(field)) await set({ kind: kindOf(field), read: undefined, path: [field] }, blob[field])
  }
  for (const place of mapping.places.values()) if (place.path.length === 2) await set(place, raw(place))
  if (mapping.json !== undefined && !mapping.places.has('metadata') && !mapping.dropped.has('metadata')) {
    const metadata = Object.fromEntries(Object.entries(blob).filter(([key]) => !mapping.claimedKeys.has(key)))
    if (Object.keys(metadata).length > 0) activity.metadata = metadata
  }
  if (times.timestamp !== null && times.timestamp !== undefined) activity.timestamp = microsToIso(String(times.timestamp))
  if (times.endTime !== null && times.endTime !== undefined) activity.endTime = microsToIso(String(times.endTime))
  if (times.receivedAt !== null && times.receivedAt !== undefined) activity.receivedAt = microsToIso(String(times.receivedAt))
  activity.id ??= rowKey
  activity.activityType ??= ''
  const built = activity as unknown as Activity
  return mapping.fromRow ? mapping.fromRow(row, built) : built
}
