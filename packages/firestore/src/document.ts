import type { Activity, JsonValue } from '@usertracking/core'

/**
 * How an activity is stored in its Firestore document, and read back byte for byte.
 *
 * - `timestamp`, `endTime` and `receivedAt` are Firestore Timestamps, so they sort and filter as
 *   dates and the console shows them as such (ISO strings with milliseconds round-trip exactly).
 * - `storedAt` is when the document was written, which `subscribe` listens on; `receivedAt` is the
 *   activity's own (set by the ingest handler) or else the same time.
 * - `durationMs` and `totalTokens` (the `tokenUsage.total`) are always present, `null` when the
 *   activity has none: `orderBy` leaves out documents missing the field, and a `null` sorts them
 *   before every number, which is what lets `list` put them last in either order.
 * - `metadata`, `context`, `tokenUsage`, `cost` and any other field are maps, with two reversible
 *   escapes for JSON that Firestore refuses: a key that is empty, reserved (`__name__`) or starts
 *   with U+FDD0 is stored with a U+FDD0 prefix, and an array directly inside an array is wrapped
 *   in a one-key map `{ "\uFDD0[": [...] }` (Firestore has no arrays of arrays).
 */

const ESCAPE = '\uFDD0'
const ARRAY_KEY = `${ESCAPE}[`
/** Stored as Timestamps. */
const TIME_FIELDS = new Set(['timestamp', 'endTime', 'receivedAt'])
/** Derived for sorting and filtering; not part of the activity. */
export const TOTAL_TOKENS = 'totalTokens'
/**
 * When the document was written (the writer's clock, or the server's with the web SDK), whatever
 * `receivedAt` says: what `subscribe` listens on. Not part of the activity.
 */
export const STORED_AT = 'storedAt'
/**
 * With `retention`, when the activity expires (the earlier of `timestamp` and `receivedAt`, plus
 * `maxAgeDays`), for a Firestore TTL policy on this field. Not part of the activity.
 */
export const EXPIRE_AT = 'expireAt'

/** A Firestore Timestamp, from either SDK. */
interface TimestampLike {
  toMillis(): number
}

function isTimestamp(value: unknown): value is TimestampLike {
  return typeof value === 'object' && value !== null && typeof (value as TimestampLike).toMillis === 'function'
}

function escapeKey(key: string): string {
  return key === '' || key.startsWith(ESCAPE) || /^__.*__$/s.test(key) ? ESCAPE + key : key
}

function unescapeKey(key: string): string {
  return key.startsWith(ESCAPE) ? key.slice(1) : key
}

function encodeValue(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => {
      const encoded = encodeValue(item ?? null)
      return Array.isArray(item) ? { [ARRAY_KEY]: encoded } : encoded
    })
  }
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, item]) => item !== undefined)
        .map(([key, item]) => [escapeKey(key), encodeValue(item)]),
    )
  }
  return value
}

function isArrayWrapper(value: unknown): value is { [ARRAY_KEY]: unknown[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const keys = Object.keys(value)
  return keys.length === 1 && keys[0] === ARRAY_KEY && Array.isArray((value as Record<string, unknown>)[ARRAY_KEY])
}

function decodeValue(value: unknown): JsonValue {
  if (Array.isArray(value)) return value.map((item) => decodeValue(isArrayWrapper(item) ? item[ARRAY_KEY] : item))
  if (isTimestamp(value)) return new Date(value.toMillis()).toISOString()
  if (typeof value === 'object' && value !== null) {
    // fromEntries defines own properties, so a `__proto__` key stays data and never a prototype.
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [unescapeKey(key), decodeValue(item)]))
  }
  return value as JsonValue
}

/**
 * The document of an activity. `storedAt` is what the caller passes (the writer's clock, or the web
 * SDK's `serverTimestamp()`), and `receivedAt` too when the activity has none of its own;
 * `expireAt`, when given, is written as it is.
 */
export function toDocument(activity: Activity, storedAt: unknown, expireAt?: unknown): Record<string, unknown> {
  const document: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(activity)) {
    if (value === undefined) continue
    if (TIME_FIELDS.has(key)) document[key] = new Date(value as string)
    else if (typeof value !== 'object' || value === null) document[escapeKey(key)] = value
    else document[escapeKey(key)] = encodeValue(value)
  }
  document.durationMs = activity.durationMs ?? null
  document[TOTAL_TOKENS] = activity.tokenUsage?.total ?? null
  if (activity.receivedAt === undefined) document.receivedAt = storedAt
  document[STORED_AT] = storedAt
  if (expireAt !== undefined && expireAt !== null) document[EXPIRE_AT] = expireAt
  return document
}

/** The activity a stored document holds. */
export function fromDocument(data: Record<string, unknown>): Activity {
  const activity: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(data)) {
    if (key === TOTAL_TOKENS || key === STORED_AT || key === EXPIRE_AT || value === null || value === undefined) continue
    if (TIME_FIELDS.has(key) && isTimestamp(value)) activity[key] = new Date(value.toMillis()).toISOString()
    else activity[unescapeKey(key)] = decodeValue(value)
  }
  return activity as unknown as Activity
}

/** Millisecond range of a Firestore Timestamp: 0001-01-01T00:00:00Z up to 9999-12-31T23:59:59.999Z. */
const MIN_TIMESTAMP_MS = -62_135_596_800_000
export const MAX_TIMESTAMP_MS = 253_402_300_799_999

/**
 * When an activity expires, in Unix ms: the earlier of its `timestamp` and its `receivedAt` (or
 * `nowMs`, which stamps a missing one) plus `maxAgeMs`, at most the last instant a Timestamp holds.
 */
export function expiryOf(activity: Activity, nowMs: number, maxAgeMs: number): number {
  const received = activity.receivedAt === undefined ? nowMs : Date.parse(activity.receivedAt)
  return Math.min(MAX_TIMESTAMP_MS, Math.min(Date.parse(activity.timestamp), received) + maxAgeMs)
}

/** Why Firestore would refuse this time, or undefined when it takes it. */
export function timeProblem(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const ms = Date.parse(value)
  if (!Number.isFinite(ms)) return `${field} is not a valid date.`
  if (ms < MIN_TIMESTAMP_MS || ms > MAX_TIMESTAMP_MS) return `${field} is outside the years 1 to 9999 that a Firestore Timestamp holds.`
  return undefined
}
