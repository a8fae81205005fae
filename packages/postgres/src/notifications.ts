import { isUuid } from '@usertracking/core'

/**
 * What the store NOTIFYs after a write committed: the ids it stored, comma-separated, several notifications
 * when there are many. PostgreSQL refuses a payload of 8000 bytes or more; 200 ids of 36
 * characters and a comma are 7,400. A subscriber reads the rows by id.
 */
export const IDS_PER_NOTIFICATION = 200

// PostgreSQL truncates (LISTEN) or refuses (pg_notify) a channel name over 63 bytes.
const MAX_CHANNEL_BYTES = 63

/**
 * The channel a table's writes are announced on: `usertracking:<schema>.<table>`, reduced to
 * characters that need no quoting anywhere, and to PostgreSQL's 63 bytes. Two tables whose names
 * reduce to the same channel only cost their subscribers a read that finds none of the ids.
 */
export function channelName(schema: string, table: string): string {
  return `usertracking:${schema}.${table}`.replace(/[^\w.:-]/g, '_').slice(0, MAX_CHANNEL_BYTES)
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`
}

/**
 * A statement announcing `ids` on `channel`, in chunks of {@link IDS_PER_NOTIFICATION}. Only UUIDs
 * are included, so the text needs no parameters; `undefined` when there are none.
 */
export function notifyIdsSql(channel: string, ids: Iterable<string>): string | undefined {
  const valid = [...ids].filter((id) => isUuid(id))
  if (valid.length === 0) return undefined
  const calls: string[] = []
  for (let start = 0; start < valid.length; start += IDS_PER_NOTIFICATION) {
    calls.push(`pg_notify(${literal(channel)}, ${literal(valid.slice(start, start + IDS_PER_NOTIFICATION).join(','))})`)
  }
  return `SELECT ${calls.join(', ')}`
}

/** The ids of a notification payload (anything that is not a UUID is ignored). */
export function parsePayload(payload: string): string[] {
  return payload.split(',').filter((id) => isUuid(id))
}
