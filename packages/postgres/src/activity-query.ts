import type { ActivityFilter, ActivitySortKey } from '@usertracking/core'
import type { CursorPosition } from './cursor'
import { invalidQuery } from './errors'
import { sortExpression, type EqualityField, type TableShape } from './table-shape'
import { splitMicros, toMs, toTimestampText } from './time'

/** Collects statement parameters and hands out their `$n` placeholders. */
export class Params {
  readonly values: unknown[] = []

  /** Adds a value; returns its placeholder. */
  add(value: unknown): string {
    this.values.push(value)
    return `$${this.values.length}`
  }
}

function finiteNumber(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalidQuery(`${field} must be a finite number.`)
  }
  return value
}

/** The expression behind a filter, sort or grouping, or a `RangeError` naming it when the table keeps none. */
export function required(expression: string | undefined, what: string): string {
  if (expression === undefined) {
    throw invalidQuery(`${what} cannot be served: the table's mapping gives it no column or JSON key.`)
  }
  return expression
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalidQuery(`${field} must be a string.`)
  return value
}

/** The SQL conditions of a filter (joined with AND by the caller; none means every row). */
export async function filterConditions(shape: TableShape, filter: ActivityFilter, params: Params): Promise<string[]> {
  const conditions: string[] = []
  const equals = async (field: EqualityField, value: string) => {
    const expression = required(shape.equality[field], `The ${field} filter`)
    const param = await shape.equalityParam(field, text(value, field))
    return `${expression} = ${params.add(param.value)}${param.cast}`
  }
  for (const field of ['userId', 'anonymousId', 'sessionId', 'status'] as const) {
    if (filter[field] !== undefined) conditions.push(await equals(field, filter[field]))
  }
  if (filter.activityType !== undefined) {
    const types = Array.isArray(filter.activityType) ? filter.activityType : [filter.activityType]
    const expression = required(shape.equality.activityType, 'The activityType filter')
    if (types.length === 0) conditions.push('false')
    else if (types.length === 1) conditions.push(await equals('activityType', types[0]!))
    else {
      // One array parameter, however many types: a list of placeholders would hit the protocol's
      // limit of 65,535 parameters.
      const converted = await Promise.all(types.map((type) => shape.equalityParam('activityType', text(type, 'activityType'))))
      const cast = converted[0]!.cast
      conditions.push(`${expression} = ANY(${params.add(converted.map((param) => param.value))}${cast ? `${cast}[]` : '::text[]'})`)
    }
  }
  const time = (value: string | Date, field: keyof ActivityFilter) => `${params.add(toTimestampText(toMs(value, field)))}::timestamptz`
  if (filter.from !== undefined) conditions.push(`${shape.timestamp} >= ${time(filter.from, 'from')}`)
  if (filter.to !== undefined) conditions.push(`${shape.timestamp} < ${time(filter.to, 'to')}`)
  if (filter.receivedFrom !== undefined) {
    conditions.push(`${required(shape.receivedAt, 'The receivedFrom filter')} >= ${time(filter.receivedFrom, 'receivedFrom')}`)
  }
  if (filter.receivedTo !== undefined) {
    conditions.push(`${required(shape.receivedAt, 'The receivedTo filter')} < ${time(filter.receivedTo, 'receivedTo')}`)
  }
  if (filter.minTokens !== undefined) {
    const tokens = required(shape.totalTokens, 'The minTokens filter')
    conditions.push(`${tokens} >= ${params.add(finiteNumber(filter.minTokens, 'minTokens'))}::float8`)
  }
  if (filter.maxTokens !== undefined) {
    const tokens = required(shape.totalTokens, 'The maxTokens filter')
    conditions.push(`${tokens} <= ${params.add(finiteNumber(filter.maxTokens, 'maxTokens'))}::float8`)
  }
  return conditions
}

/** `WHERE …`, or nothing. */
export function whereSql(conditions: readonly string[]): string {
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''
}

/** Checks a sort key and order from the outside world, and that the table can sort by it. */
export function checkSort(shape: TableShape, sort: unknown, order: unknown): void {
  if (sort !== 'timestamp' && sort !== 'durationMs' && sort !== 'tokens') {
    throw invalidQuery(`Cannot sort by ${String(sort)}; sort by timestamp, durationMs or tokens.`)
  }
  required(sortExpression(shape, sort), `Sorting by ${sort}`)
  if (order !== 'asc' && order !== 'desc') {
    throw invalidQuery(`The order must be asc or desc, not ${String(order)}.`)
  }
}

/**
 * ORDER BY for a sort, with the tie-breaker so the order is total. `timestamp` is left without
 * NULLS LAST so an index can serve either direction; the nullable keys keep activities without a
 * value last in both directions.
 */
export function orderSql(shape: TableShape, sort: ActivitySortKey, order: 'asc' | 'desc'): string {
  const direction = order === 'asc' ? 'ASC' : 'DESC'
  const nulls = sort === 'timestamp' ? '' : ' NULLS LAST'
  return `ORDER BY ${sortExpression(shape, sort)} ${direction}${nulls}, ${shape.tieBreaker.sql} ${direction}`
}

/** The condition selecting the rows after `position` in that order (keyset pagination). */
export function keysetCondition(
  shape: TableShape,
  sort: ActivitySortKey,
  order: 'asc' | 'desc',
  position: CursorPosition,
  params: Params,
): string {
  const after = order === 'asc' ? '>' : '<'
  const key = shape.tieBreaker.sql
  const id = `${params.add(position.id)}${shape.tieBreaker.cast}`
  if (sort === 'timestamp') {
    const { ms, micros } = splitMicros(position.value as string)
    // A row comparison is what lets the (…, "timestamp", id) indexes seek straight to the page.
    return `(${shape.timestamp}, ${key}) ${after} (${params.add(toTimestampText(ms, micros))}::timestamptz, ${id})`
  }
  const column = sortExpression(shape, sort)!
  if (position.value === null) return `(${column} IS NULL AND ${key} ${after} ${id})`
  const value = `${params.add(position.value)}::float8`
  return `(${column} ${after} ${value} OR (${column} = ${value} AND ${key} ${after} ${id}) OR ${column} IS NULL)`
}
