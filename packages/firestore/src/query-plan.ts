import type { ActivityFilter, ActivitySortKey } from '@usertracking/core'
import { invalidQuery } from './errors'
import { TOTAL_TOKENS } from './document'
import { userCollectionPath, type Layout } from './layout'

/** A document field `list` orders by. */
export type SortField = 'timestamp' | 'durationMs' | typeof TOTAL_TOKENS
/**
 * A field a plan orders (and bounds) by: a sort field, or a time field retention walks
 * (`receivedAt` of activities; `linkedAt` and `expireAt` of owner documents).
 */
export type OrderField = SortField | 'receivedAt' | 'linkedAt' | 'expireAt'

/** A plan's bound or cursor value as the field holds it: a number for the numeric sort fields, a Date (stored as a Timestamp) from Unix ms for the others. */
export function fieldValue(field: OrderField, value: number): number | Date {
  return field === 'durationMs' || field === TOTAL_TOKENS ? value : new Date(value)
}
/** Fields `list` filters on with `==` / `in` in Firestore; the shipped indexes pair each with every sort field. */
export type EqualityField = 'sessionId' | 'anonymousId' | 'activityType' | 'status'

/** Where a query reads: one user's collection, or the collection group of every user's. */
export type QueryScope = { collection: string } | { group: string }

/** One bound of a range filter; numbers are milliseconds for `timestamp`. */
export interface Bound {
  value: number
  inclusive: boolean
}

/**
 * One Firestore query, as `list`, `export`, `stats` and `includeTotal` issue it: a scope, at most
 * one equality filter, at most one range filter on the field it orders by, the order, and where to
 * start. Everything a plan does not push down is applied to the documents it returns (`exact`
 * says whether anything was left). The shipped `firestore.indexes.json` covers every plan.
 */
export interface QueryPlan {
  scope: QueryScope
  equality?: { field: EqualityField; values: string[] }
  /** Order by this field, then by document name, both in `direction`. */
  orderBy: OrderField
  direction: 'asc' | 'desc'
  range?: { lower?: Bound; upper?: Bound }
  /** Only documents whose `orderBy` field is null, ordered by document name alone. */
  nullsOnly?: boolean
  /** Resume after this document, whose `orderBy` value (null in the null phase) is `value`. */
  startAfter?: { value: number | null; path: string }
  /** Whether the filter is applied in full by Firestore (so counts can be aggregated). */
  exact: boolean
}

const SORT_FIELDS: Record<ActivitySortKey, SortField> = { timestamp: 'timestamp', durationMs: 'durationMs', tokens: TOTAL_TOKENS }

/** Firestore's `in` takes at most 30 values; larger lists are matched in this process. */
const MAX_IN_VALUES = 30

/**
 * Filter keys a plan can push down; any other filter key with a value (`receivedFrom`,
 * `receivedTo`, a second equality) makes the plan inexact: matched in this process.
 */
const PUSHABLE = new Set(['userId', 'activityType', 'status', 'sessionId', 'anonymousId', 'from', 'to', 'minTokens', 'maxTokens'])
/** Query keys that are not filters. */
const NOT_FILTERS = new Set(['sort', 'order', 'limit', 'cursor', 'includeTotal', 'offset', 'pageSize', 'groupBy'])

/** The document field of a sort key; refuses unknown keys and orders. */
export function sortField(sort: unknown, order: unknown): SortField {
  if (typeof sort !== 'string' || !Object.hasOwn(SORT_FIELDS, sort)) {
    throw invalidQuery(`Cannot sort by ${String(sort)}; sort by timestamp, durationMs or tokens.`)
  }
  if (order !== 'asc' && order !== 'desc') throw invalidQuery(`The order must be asc or desc, not ${String(order)}.`)
  return SORT_FIELDS[sort as ActivitySortKey]
}

function toMs(value: string | Date, field: string): number {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value)
  if (!Number.isFinite(ms)) throw invalidQuery(`The ${field} bound is not a valid date: ${String(value)}.`)
  return ms
}

function finite(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidQuery(`${field} must be a finite number.`)
  return value
}

/** The activity types a filter asks for, or undefined for any. */
function typesOf(filter: ActivityFilter): string[] | undefined {
  if (filter.activityType === undefined) return undefined
  return Array.isArray(filter.activityType) ? filter.activityType : [filter.activityType]
}

/**
 * Whether no activity can match (an empty list of types): the store answers without a query.
 */
export function matchesNothing(filter: ActivityFilter): boolean {
  return typesOf(filter)?.length === 0
}

/** The equality filter a plan pushes down: the most selective one the shipped indexes pair with this scope. */
function pickEquality(filter: ActivityFilter, perUser: boolean): QueryPlan['equality'] {
  for (const field of ['sessionId', 'anonymousId'] as const) {
    // A user's own collection holds no anonymous activities, so no index pairs it with anonymousId.
    if (field === 'anonymousId' && perUser) continue
    const value = filter[field]
    if (typeof value === 'string') return { field, values: [value] }
  }
  const types = typesOf(filter)
  if (types !== undefined && types.length <= MAX_IN_VALUES) return { field: 'activityType', values: [...new Set(types)] }
  if (typeof filter.status === 'string') return { field: 'status', values: [filter.status] }
  return undefined
}

/**
 * The queries that answer `filter` in `sort` / `order`, in the order to run them, resuming at
 * `cursor` (a decoded position) when given. Ascending orders on a field that may be null take two:
 * the documents with a value, then (unless a range on that field excludes them) those without.
 */
export function planQueries(
  layout: Layout,
  filter: ActivityFilter,
  sort: ActivitySortKey,
  order: 'asc' | 'desc',
  cursor?: { value: number | null; path: string },
): QueryPlan[] {
  const orderBy = sortField(sort, order)
  const query = filter as Record<string, unknown>
  const perUser = typeof filter.userId === 'string'
  const scope: QueryScope = perUser ? { collection: userCollectionPath(layout, filter.userId!) } : { group: layout.subcollection }
  const equality = pickEquality(filter, perUser)
  const pushed = new Set<string>(perUser ? ['userId'] : [])
  if (equality) pushed.add(equality.field)

  let range: QueryPlan['range']
  if (orderBy === 'timestamp' && (filter.from !== undefined || filter.to !== undefined)) {
    range = {}
    if (filter.from !== undefined) range.lower = { value: toMs(filter.from, 'from'), inclusive: true }
    if (filter.to !== undefined) range.upper = { value: toMs(filter.to, 'to'), inclusive: false }
    pushed.add('from').add('to')
  } else if (orderBy === TOTAL_TOKENS && (filter.minTokens !== undefined || filter.maxTokens !== undefined)) {
    range = {}
    if (filter.minTokens !== undefined) range.lower = { value: finite(filter.minTokens, 'minTokens'), inclusive: true }
    if (filter.maxTokens !== undefined) range.upper = { value: finite(filter.maxTokens, 'maxTokens'), inclusive: true }
    pushed.add('minTokens').add('maxTokens')
  }
  // Checked here too so that an invalid bound fails the same way whichever sort was asked for.
  if (filter.from !== undefined) toMs(filter.from, 'from')
  if (filter.to !== undefined) toMs(filter.to, 'to')
  if (filter.minTokens !== undefined) finite(filter.minTokens, 'minTokens')
  if (filter.maxTokens !== undefined) finite(filter.maxTokens, 'maxTokens')

  const exact = Object.entries(query).every(([key, value]) => value === undefined || NOT_FILTERS.has(key) || (PUSHABLE.has(key) && pushed.has(key)))
  const base = { scope, ...(equality ? { equality } : {}), orderBy, direction: order, exact }
  const nullable = orderBy !== 'timestamp'
  if (!nullable || order === 'desc') {
    // Descending, null sorts after every number: one query visits the values, then the nulls.
    return [{ ...base, ...(range ? { range } : {}), ...(cursor ? { startAfter: cursor } : {}) }]
  }
  // Ascending, null sorts first: a lower bound of -Infinity leaves the nulls to a second query.
  const values: QueryPlan = { ...base, range: { lower: { value: -Infinity, inclusive: true }, ...range } }
  const nulls: QueryPlan = { ...base, nullsOnly: true }
  if (cursor?.value === null) return [{ ...nulls, startAfter: cursor }]
  if (cursor) values.startAfter = cursor
  return range ? [values] : [values, nulls]
}
