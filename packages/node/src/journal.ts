import type { Activity } from '@usertracking/core'

/**
 * The journal's record format: one JSON object per line, `{"add":[…activities]}`,
 * `{"spill":[…activities]}` (stored, but not held in the tracker's memory) or `{"remove":[…ids]}`. A record counts only once its closing newline is in the file, so a write
 * torn by a crash (no newline, or half a line) is recognised and cut off on the next start.
 */

/** Encodes activities added to the journal as one record, newline included. */
export function encodeAdd(activities: readonly Activity[]): string {
  return `{"add":${JSON.stringify(activities)}}\n`
}

/** Encodes activities spilled to the journal (not held in memory) as one record, newline included. */
export function encodeSpill(activities: readonly Activity[]): string {
  return `{"spill":${JSON.stringify(activities)}}\n`
}

const SPILL_OPEN = Buffer.from('{"spill":')
const SPILL_CLOSE = Buffer.from('}\n')

/**
 * Encodes activities spilled as the UTF-8 bytes of their JSON array as one record, newline
 * included, in parts to write one after the other: the same record as {@link encodeSpill}'s.
 */
export function encodeSpillJson(json: Uint8Array): Uint8Array[] {
  return [SPILL_OPEN, json, SPILL_CLOSE]
}

/** Reads the activities of one `spill` record's line (without its newline). */
export function decodeSpill(line: string): Activity[] {
  const spill = (JSON.parse(line) as { spill?: unknown }).spill
  return Array.isArray(spill) ? spill.filter(isActivity) : []
}

/** Encodes ids removed from the journal as one record, newline included. */
export function encodeRemove(ids: readonly string[]): string {
  return `{"remove":${JSON.stringify(ids)}}\n`
}

/** What replaying a journal found. */
export interface ReplayResult {
  /** The activities still pending, oldest first. */
  live: Map<string, Activity>
  /** Bytes up to the end of the last complete record; anything after it is a torn write. */
  validBytes: number
  /** Complete lines that were not readable records (corruption that is not a torn tail). */
  unreadable: number
}

function isActivity(value: unknown): value is Activity {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Activity).id === 'string' &&
    typeof (value as Activity).activityType === 'string' &&
    typeof (value as Activity).timestamp === 'string'
  )
}

/**
 * Replays a journal's bytes: applies each add and remove in order and reports where the last
 * complete record ends.
 *
 * @param bytes - the journal file's content.
 */
export function replayJournal(bytes: Uint8Array): ReplayResult {
  const live = new Map<string, Activity>()
  const lastNewline = bytes.lastIndexOf(10)
  const validBytes = lastNewline + 1
  let unreadable = 0
  if (validBytes === 0) return { live, validBytes, unreadable }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, validBytes).toString('utf8')
  for (const line of text.split('\n')) {
    if (line.length === 0) continue
    let record: unknown
    try {
      record = JSON.parse(line)
    } catch {
      unreadable++
      continue
    }
    // A spilled activity is as pending as an added one; only the tracker's memory differed.
    const add = (record as { add?: unknown }).add ?? (record as { spill?: unknown }).spill
    const remove = (record as { remove?: unknown }).remove
    if (Array.isArray(add)) {
      for (const activity of add) if (isActivity(activity)) live.set(activity.id, activity)
    } else if (Array.isArray(remove)) {
      for (const id of remove) if (typeof id === 'string') live.delete(id)
    } else {
      unreadable++
    }
  }
  return { live, validBytes, unreadable }
}
