import type { ActivitySortKey } from '@usertracking/core'
import { invalidQuery } from './errors'
import { checkDocumentPath, type Layout } from './layout'

/** Where a page ended: the sort value of its last activity (null when it has none) and its document path. */
export interface CursorPosition {
  /** Epoch milliseconds for `timestamp`; the number (or null) for `durationMs` / `tokens`. */
  value: number | null
  path: string
}

const VERSION = 'f1'

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text)
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

function fromBase64Url(text: string): string {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'))
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)))
}

/** Encodes a page position, with the sort it belongs to, as an opaque URL-safe string. */
export function encodeCursor(sort: ActivitySortKey, order: 'asc' | 'desc', position: CursorPosition): string {
  return toBase64Url(JSON.stringify([VERSION, sort, order, position.value, position.path]))
}

/**
 * Decodes a cursor of {@link encodeCursor}, refusing one issued for another sort, for another
 * user's collection, or not issued here at all.
 */
export function decodeCursor(
  layout: Layout,
  cursor: string,
  sort: ActivitySortKey,
  order: 'asc' | 'desc',
  collectionPath: string | undefined,
): CursorPosition {
  let decoded: unknown
  try {
    decoded = JSON.parse(fromBase64Url(cursor))
  } catch {
    decoded = undefined
  }
  if (Array.isArray(decoded) && decoded.length === 5 && decoded[0] === VERSION) {
    const [, cursorSort, cursorOrder, value, path] = decoded as unknown[]
    const valueFits = (typeof value === 'number' && Number.isFinite(value)) || (value === null && cursorSort !== 'timestamp')
    const sortFits = cursorSort === 'timestamp' || cursorSort === 'durationMs' || cursorSort === 'tokens'
    if (typeof path === 'string' && valueFits && sortFits && (cursorOrder === 'asc' || cursorOrder === 'desc')) {
      if (cursorSort !== sort || cursorOrder !== order) {
        throw invalidQuery(`The cursor belongs to a listing sorted by ${String(cursorSort)} ${String(cursorOrder)}, not by ${sort} ${order}.`)
      }
      checkDocumentPath(layout, path, collectionPath)
      return { value: value as number | null, path }
    }
  }
  throw invalidQuery('The cursor is not one this store issued.')
}
