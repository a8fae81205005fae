import type { ActivitySortKey } from '@usertracking/core'
import { invalidQuery } from './errors'
import { inTimestampRange, splitMicros } from './time'

/** Where a page ended: the sort key's value in its last row (exact) and that row's tie-breaker. */
export interface CursorPosition {
  /** Epoch microseconds as text for `timestamp`; the number (or null) for `durationMs` / `tokens`. */
  value: string | number | null
  /** The row's id (or, in a mapped table, its primary key) as text. */
  id: string
}

function toBase64Url(text: string): string {
  return btoa(text).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

function fromBase64Url(text: string): string {
  return atob(text.replaceAll('-', '+').replaceAll('_', '/'))
}

/** Encodes a page position, with the sort it belongs to, as an opaque URL-safe string. */
export function encodeCursor(sort: ActivitySortKey, order: 'asc' | 'desc', position: CursorPosition): string {
  return toBase64Url(JSON.stringify([sort, order, position.value, position.id]))
}

/**
 * Decodes a cursor of {@link encodeCursor}, refusing one issued for another sort or not issued here
 * at all; `acceptsId` checks the tie-breaker (a UUID, or a mapped table's primary key).
 */
export function decodeCursor(cursor: string, sort: ActivitySortKey, order: 'asc' | 'desc', acceptsId: (id: string) => boolean): CursorPosition {
  let decoded: unknown
  try {
    decoded = JSON.parse(fromBase64Url(cursor))
  } catch {
    decoded = undefined
  }
  if (Array.isArray(decoded) && decoded.length === 4) {
    const [cursorSort, cursorOrder, value, id] = decoded as unknown[]
    // Well-formed is not enough: a position no row can have (a time PostgreSQL cannot hold, a number
    // JSON turned into Infinity) would fail in the database instead of here.
    const valueFits =
      cursorSort === 'timestamp'
        ? typeof value === 'string' && /^-?\d{1,20}$/.test(value) && inTimestampRange(splitMicros(value).ms)
        : (cursorSort === 'durationMs' || cursorSort === 'tokens') && (value === null || (typeof value === 'number' && Number.isFinite(value)))
    if (typeof id === 'string' && acceptsId(id) && valueFits && (cursorOrder === 'asc' || cursorOrder === 'desc')) {
      if (cursorSort !== sort || cursorOrder !== order) {
        throw invalidQuery(
          `The cursor belongs to a listing sorted by ${String(cursorSort)} ${String(cursorOrder)}, not by ${sort} ${order}.`,
        )
      }
      return { value: value as CursorPosition['value'], id }
    }
  }
  throw invalidQuery('The cursor is not one this store issued.')
}
