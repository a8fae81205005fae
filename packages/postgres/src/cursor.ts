import type { ActivitySortKey } from '@usertracking/core'
import { invalidQuery } from './errors'

/** Where a page ended: the sort key's value in its last row (exact) and that row's id. */
export interface CursorPosition {
  /** Epoch microseconds as text for `timestamp`; the number (or null) for `durationMs` / `tokens`. */
  value: string | number | null
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Decodes a cursor of {@link encodeCursor}, refusing one issued for another sort or not issued here at all. */
export function decodeCursor(cursor: string, sort: ActivitySortKey, order: 'asc' | 'desc'): CursorPosition {
  let decoded: unknown
  try {
    decoded = JSON.parse(fromBase64Url(cursor))
  } catch {
    decoded = undefined
  }
  if (Array.isArray(decoded) && decoded.length === 4) {
    const [cursorSort, cursorOrder, value, id] = decoded as unknown[]
    const valueFits =
      cursorSort === 'timestamp'
        ? typeof value === 'string' && /^-?\d+$/.test(value)
        : (cursorSort === 'durationMs' || cursorSort === 'tokens') && (value === null || typeof value === 'number')
    if (typeof id === 'string' && UUID.test(id) && valueFits && (cursorOrder === 'asc' || cursorOrder === 'desc')) {
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
