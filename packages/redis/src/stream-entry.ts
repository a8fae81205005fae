import { isPlainObject, type Activity } from '@usertracking/core'

/** The stream entry field that holds one activity as JSON. */
export const ACTIVITY_FIELD = 'activity'

/** One stream entry as the worker handles it. */
export interface StreamEntry {
  /** The entry's stream id (`1712345678901-0`), not the activity's. */
  id: string
  /** The entry's fields as Redis returned them. */
  fields: string[]
  /** The activity, or undefined when the entry does not hold one it can read. */
  activity: Activity | undefined
}

/**
 * The entries of the one stream an `XREAD` / `XREADGROUP` asked for, in any shape ioredis gives
 * the reply: `null` when a block timed out, `[[stream, entries]]` over RESP2, and over RESP3 (a map)
 * `[stream, entries]` with the default `replyMapping: 'legacy'` or `{ [stream]: entries }` with
 * `'resp3'`.
 */
export function readReplyEntries(reply: unknown): StreamEntry[] {
  if (Array.isArray(reply)) return decodeEntries(Array.isArray(reply[0]) ? (reply[0] as unknown[])[1] : reply[1])
  if (isPlainObject(reply)) return decodeEntries(Object.values(reply)[0])
  return []
}

/** Decodes stream entries from an `XRANGE` reply, or the entries of an `XREADGROUP` or `XAUTOCLAIM` one. */
export function decodeEntries(items: unknown): StreamEntry[] {
  if (!Array.isArray(items)) return []
  const entries: StreamEntry[] = []
  for (const item of items) {
    if (!Array.isArray(item) || typeof item[0] !== 'string') continue
    // Redis 6 answers null fields for an entry deleted while pending; Redis 7 lists those ids apart.
    const fields = Array.isArray(item[1]) ? (item[1] as unknown[]).map(String) : []
    entries.push({ id: item[0], fields, activity: readActivity(fields) })
  }
  return entries
}

function readActivity(fields: string[]): Activity | undefined {
  for (let index = 0; index + 1 < fields.length; index += 2) {
    if (fields[index] !== ACTIVITY_FIELD) continue
    try {
      const value: unknown = JSON.parse(fields[index + 1]!)
      // The ingest route or the tracker normalised it before appending; this only guards against
      // entries someone else wrote into the stream.
      if (isPlainObject(value) && typeof value.id === 'string' && typeof value.activityType === 'string') return value as unknown as Activity
    } catch {
      return undefined
    }
  }
  return undefined
}
