import type { Activity, ActivityContext, JsonObject } from './activity'
import { smallUuidv7 } from './small-uuid'
import {
  ACTIVITY_LIMITS,
  isPlainObject,
  Issues,
  NORMALIZE_DEFAULTS,
  set,
  toActivityType,
  toCount,
  toId,
  type NormalizeOptions,
  type NormalizeResult,
  type Path,
} from './normalize'

/**
 * The {@link Activity} fields {@link normalizeCanonicalActivity} does not read: the tracker sets
 * `id` and `timestamp`, and the rest only server-side or LLM code sets. An input carrying one is
 * refused, naming it, rather than losing it in silence.
 */
const NOT_READ = ['id', 'timestamp', 'description', 'endTime', 'tokenUsage', 'cost', 'status', 'error', 'receivedAt']

/**
 * Copies `metadata` or `context` as `JSON.stringify` sees it (functions and `undefined` are left
 * out, `NaN` becomes `null`, as any JSON API does); its size is that text's length in UTF-16 code
 * units; a string is parsed first when `parseString` is set (`metadata` may arrive as JSON text, as
 * `normalizeActivity` accepts it). What JSON cannot carry at all (a cycle, a BigInt) is refused,
 * with the field's path but not the path inside it.
 */
function toJsonObject(value: unknown, path: Path, maxBytes: number, issues: Issues, parseString: boolean): JsonObject | undefined {
  let text: string
  let copy: unknown
  try {
    if (typeof value === 'string' && parseString) value = JSON.parse(value)
    text = JSON.stringify(value)
    copy = isPlainObject(value) && JSON.parse(text)
  } catch (error) {
    // JSON.parse and JSON.stringify throw Errors; a toJSON may throw anything.
    return issues.add(path, `Not JSON: ${String(error)}`)
  }
  if (!isPlainObject(copy)) return issues.add(path, 'Expected a JSON object.')
  if (text.length > maxBytes) return issues.add(path, `Larger than the ${maxBytes}-byte limit.`)
  issues.bytes += text.length
  return copy as JsonObject
}

/**
 * {@link normalizeActivity} for the activities an SDK builds itself, such as a page's: it reads only
 * `activityType`, `userId`, `anonymousId`, `sessionId`, `durationMs`, `context` and `metadata`, by
 * their canonical names, with the same checks and limits, and sets `id` and `timestamp`. An input
 * with any other {@link Activity} field is refused, naming it; aliases (`action`, `user_id`, …) are
 * not read (an alias alone is ignored, so `{ action }` lacks its `activityType`). `metadata` and
 * `context` are copied through JSON: what `JSON.stringify` leaves out or turns into `null` is left
 * out or `null`, their size is counted in UTF-16 code units, and what JSON cannot carry is refused
 * with the field's path. That keeps the strict walker and the alias tables out of a browser bundle.
 *
 * @param input - anything; non-objects are reported, not thrown.
 * @param options - limits (`maxMetadataBytes`, `now`); see {@link NormalizeOptions}.
 */
export function normalizeCanonicalActivity(input: unknown, options: NormalizeOptions = {}): NormalizeResult {
  const issues = new Issues()
  if (!isPlainObject(input)) {
    issues.add([], 'Expected an activity object.')
    return { ok: false, issues: issues.list }
  }
  const maxBytes = options.maxMetadataBytes ?? NORMALIZE_DEFAULTS.maxMetadataBytes
  const nowMs = (options.now ?? Date.now)()
  const activity: Activity = { id: '', activityType: toActivityType(input.activityType, 'activityType', issues) ?? '', timestamp: new Date(nowMs).toISOString() }
  for (const field of ['userId', 'anonymousId', 'sessionId'] as const) {
    if (input[field] != null) set(activity, field, toId(input[field], [field], issues))
  }
  if (input.durationMs != null) set(activity, 'durationMs', toCount(input.durationMs, ['durationMs'], issues, ACTIVITY_LIMITS.maxDurationMs))
  if (input.context != null) set(activity, 'context', toJsonObject(input.context, ['context'], maxBytes, issues, false) as ActivityContext | undefined)
  if (input.metadata != null) set(activity, 'metadata', toJsonObject(input.metadata, ['metadata'], maxBytes, issues, true))
  for (const field of NOT_READ) {
    if (input[field] != null) issues.add([field], 'Not read by createCanonicalTracker; use createTracker.')
  }
  if (issues.list.length > 0) return { ok: false, issues: issues.list }
  activity.id = smallUuidv7(nowMs)
  // The id, timestamp, ids, keys and metadata: an estimate is enough for the byte bounds.
  return { ok: true, activity, bytes: 160 + activity.activityType.length + issues.bytes }
}
