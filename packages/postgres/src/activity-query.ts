import type { ActivityFilter, ActivitySortKey, StatsGroupKey } from '@usertracking/core'
import type { CursorPosition } from './cursor'
import { invalidQuery } from './errors'
import { escapeText } from './nul-escape'
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

/** The SQL conditions of a filter (joined with AND by the caller; none means every row). */
export function filterConditions(filter: ActivityFilter, params: Params): string[] {
  const conditions: string[] = []
  if (filter.userId !== undefined) conditions.push(`user_id = ${params.add(escapeText(filter.userId))}`)
  if (filter.anonymousId !== undefined) conditions.push(`anonymous_id = ${params.add(escapeText(filter.anonymousId))}`)
  if (filter.sessionId !== undefined) conditions.push(`session_id = ${params.add(escapeText(filter.sessionId))}`)
  if (filter.activityType !== undefined) {
    const types = Array.isArray(filter.activityType) ? filter.activityType : [filter.activityType]
    conditions.push(
      types.length === 0 ? 'false' : `activity_type IN (${types.map((type) => params.add(escapeText(type))).join(', ')})`,
    )
  }
  if (filter.from !== undefined) {
    conditions.push(`"timestamp" >= ${params.add(toTimestampText(toMs(filter.from, 'from')))}::timestamptz`)
  }
  if (filter.to !== undefined) {
    conditions.push(`"timestamp" < ${params.add(toTimestampText(toMs(filter.to, 'to')))}::timestamptz`)
  }
  if (filter.receivedFrom !== undefined) {
    conditions.push(`received_at >= ${params.add(toTimestampText(toMs(filter.receivedFrom, 'receivedFrom')))}::timestamptz`)
  }
  if (filter.receivedTo !== undefined) {
    conditions.push(`received_at < ${params.add(toTimestampText(toMs(filter.receivedTo, 'receivedTo')))}::timestamptz`)
  }
  if (filter.minTokens !== undefined) {
    conditions.push(`total_tokens >= ${params.add(finiteNumber(filter.minTokens, 'minTokens'))}::float8`)
  }
  if (filter.maxTokens !== undefined) {
    conditions.push(`total_tokens <= ${params.add(finiteNumber(filter.maxTokens, 'maxTokens'))}::float8`)
  }
  if (filter.status !== undefined) conditions.push(`status = ${params.add(escapeText(filter.status))}`)
  return conditions
}

/** A JSON string field of `context`, or NULL when it is absent or not a string. */
function contextText(field: string): string {
  return `CASE WHEN jsonb_typeof(context -> '${field}') = 'string' THEN context ->> '${field}' END`
}

/** The SQL expression of a stats grouping key (NULL for rows without one, left out of the buckets). */
export const GROUP_KEY_SQL: Record<StatsGroupKey, string> = {
  user: 'user_id',
  visitor: 'coalesce(user_id, anonymous_id)',
  activityType: 'activity_type',
  page: contextText('page'),
  host: contextText('host'),
}

/** `WHERE …`, or nothing. */
export function whereSql(conditions: readonly string[]): string {
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''
}

const SORT_COLUMNS: Record<ActivitySortKey, string> = {
  timestamp: '"timestamp"',
  durationMs: 'duration_ms',
  tokens: 'total_tokens',
}

/** Checks a sort key and order from the outside world. */
export function checkSort(sort: unknown, order: unknown): void {
  if (typeof sort !== 'string' || !Object.hasOwn(SORT_COLUMNS, sort)) {
    throw invalidQuery(`Cannot sort by ${String(sort)}; sort by timestamp, durationMs or tokens.`)
  }
  if (order !== 'asc' && order !== 'desc') {
    throw invalidQuery(`The order must be asc or desc, not ${String(order)}.`)
  }
}

/**
 * ORDER BY for a sort, with the id as tie-breaker so the order is total. `timestamp` is NOT NULL and
 * left without NULLS LAST so an index can serve either direction; the nullable keys keep activities
 * without a value last in both directions.
 */
export function orderSql(sort: ActivitySortKey, order: 'asc' | 'desc'): string {
  const direction = order === 'asc' ? 'ASC' : 'DESC'
  const nulls = sort === 'timestamp' ? '' : ' NULLS LAST'
  return `ORDER BY ${SORT_COLUMNS[sort]} ${direction}${nulls}, id ${direction}`
}

/** The condition selecting the rows after `position` in that order (keyset pagination). */
export function keysetCondition(
  sort: ActivitySortKey,
  order: 'asc' | 'desc',
  position: CursorPosition,
  params: Params,
): string {
  const after = order === 'asc' ? '>' : '<'
  const id = `${params.add(position.id)}::uuid`
  if (sort === 'timestamp') {
    const { ms, micros } = splitMicros(position.value as string)
    // A row comparison is what lets the (…, "timestamp", id) indexes seek straight to the page.
    return `("timestamp", id) ${after} (${params.add(toTimestampText(ms, micros))}::timestamptz, ${id})`
  }
  const column = SORT_COLUMNS[sort]
  if (position.value === null) return `(${column} IS NULL AND id ${after} ${id})`
  const value = `${params.add(position.value)}::float8`
  return `(${column} ${after} ${value} OR (${column} = ${value} AND id ${after} ${id}) OR ${column} IS NULL)`
}
