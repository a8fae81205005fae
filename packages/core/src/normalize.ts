import type { Activity, ActivityContext, ActivityCost, JsonObject, JsonValue, TokenUsage } from './activity'
import { toIsoString } from './time'
import { isUuid, uuidv7 } from './uuid'

/** One reason an input was rejected, with the path of the offending field (as zod reports it). */
export interface ValidationIssue {
  /** Field path, e.g. `['metadata', 'items', 3]`; empty for the input itself. */
  path: (string | number)[]
  /** What is wrong, as a sentence. */
  message: string
}

/**
 * The outcome of {@link normalizeActivity}: the activity and an estimate of its size as JSON, in
 * bytes (what the tracker's byte bounds count), or every issue found.
 */
export type NormalizeResult = { ok: true; activity: Activity; bytes: number } | { ok: false; issues: ValidationIssue[] }

/** Limits and sources used while normalising. */
export interface NormalizeOptions {
  /**
   * Largest `metadata` (and, separately, `context`) accepted, in bytes of its UTF-8 JSON.
   * @default 32768 — comfortably above any of the apps' payloads, and well under the 1 MB a
   * Firestore document may hold and the 64 KB a keepalive request may carry.
   */
  maxMetadataBytes?: number
  /**
   * Longest `description`, in characters. `error` messages longer than this are truncated rather
   * than rejected, since they come from thrown errors the caller did not write.
   * @default 10000
   */
  maxStringLength?: number
  /** The clock used for a missing `timestamp`, in Unix milliseconds. @default Date.now */
  now?: () => number
}

/** Default limits, in one place. */
export const NORMALIZE_DEFAULTS = {
  maxMetadataBytes: 32 * 1024,
  maxStringLength: 10_000,
} as const

/**
 * Bounds of numeric fields, in one place. A value above its bound is invalid (reported with its field
 * path), never clamped: such a number is a bug or an attack, and stored it would break aggregates
 * (a `sum` over `1e308` overflows in PostgreSQL and answers every stats query with an error).
 *
 * - `maxDurationMs`: a year, in milliseconds. Anything longer is not one activity.
 * - `maxTokens`: 10^12, for each of `input`, `output`, `total`, `cacheRead` and `cacheWrite` — a
 *   thousand times the largest context window in use, and far inside a float's exact integers.
 */
export const ACTIVITY_LIMITS = {
  maxDurationMs: 365 * 24 * 60 * 60 * 1000,
  maxTokens: 1e12,
} as const

const MAX_ID_LENGTH = 256
const MAX_TYPE_LENGTH = 200
const MAX_DEPTH = 32

/** A field path, as in {@link ValidationIssue}. */
export type Path = (string | number)[]

/** Whether `value` is an object and not an array (nor null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The issues found in one input, and the bytes of JSON counted so far. */
export class Issues {
  list: ValidationIssue[] = []
  /** Bytes of JSON counted so far for `metadata` and `context`. */
  bytes = 0
  /**
   * Records an issue.
   *
   * @param path - the field path; a top-level field may be given as its key alone, so that a call
   * on the path of every valid activity allocates no array for an issue it will not report.
   * @param message - what is wrong, as a sentence.
   */
  add(path: Path | string, message: string): undefined {
    this.list.push({ path: typeof path === 'string' ? [path] : path, message })
    return undefined
  }
}

function toIsoTime(value: unknown, path: Path, issues: Issues): string | undefined {
  const ms =
    value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : typeof value === 'number' ? value : Number.NaN
  // The Date range is ±8.64e15 ms; outside it toISOString would throw. NaN fails the test too.
  if (!(Math.abs(ms) <= 8.64e15)) return issues.add(path, 'Expected an ISO 8601 date, a Date or epoch ms.')
  return toIsoString(ms)
}

/**
 * An `activityType` read from the input's `key`: a non-empty string of at most 200 characters,
 * trimmed.
 */
export function toActivityType(value: unknown, key: string, issues: Issues): string | undefined {
  if (value == null) return issues.add(['activityType'], 'Required.')
  const trimmed = typeof value === 'string' ? value.trim() : ''
  if (trimmed.length === 0) return issues.add([key], 'Expected a non-empty string.')
  if ((value as string).length > MAX_TYPE_LENGTH) return issues.add([key], `Expected at most ${MAX_TYPE_LENGTH} characters.`)
  return trimmed
}

/** A user, anonymous or session id: a trimmed string or a finite number; empty means none. */
export function toId(value: unknown, path: Path | string, issues: Issues): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value !== 'string') return issues.add(path, 'Expected a string or a number.')
  const trimmed = value.trim()
  if (trimmed.length === 0) return undefined
  if (trimmed.length > MAX_ID_LENGTH) return issues.add(path, `Expected at most ${MAX_ID_LENGTH} characters.`)
  return trimmed
}

/** The id found at `key`, if any. */
function readId(source: Record<string, unknown>, key: string | undefined, issues: Issues): string | undefined {
  return key === undefined ? undefined : toId(source[key], key, issues)
}

/** A count from 0 to `max`. */
export function toCount(value: unknown, path: Path, issues: Issues, max: number): number | undefined {
  // `!(value <= max)` also refuses NaN and Infinity.
  if (typeof value !== 'number' || value < 0 || !(value <= max)) {
    return issues.add(path, `Expected a number from 0 to ${max}.`)
  }
  return value
}

function utf8Length(text: string): number {
  let bytes = text.length
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code < 0x80) continue
    if (code < 0x800) bytes += 1
    // A surrogate pair is two UTF-16 units and four UTF-8 bytes: one extra byte per unit.
    else if (code >= 0xd800 && code <= 0xdfff) bytes += 1
    else bytes += 2
  }
  return bytes
}

interface JsonWalk {
  /** Bytes left before the size limit. */
  remaining: number
  /** Objects on the current path, to find cycles without allocating a Set per call. */
  ancestors: object[]
  /** The current field path; copied only when an issue is reported. */
  path: (string | number)[]
  issues: Issues
}

function reject(walk: JsonWalk, message: string): undefined {
  return walk.issues.add([...walk.path], message)
}

/**
 * Copies `value` as JSON would see it, so what is queued can never change under the caller's feet
 * nor fail to serialise later. Rejects what JSON cannot carry faithfully (BigInt, functions,
 * symbols, cycles, non-finite numbers) instead of silently dropping or nulling it.
 */
function toJson(value: unknown, walk: JsonWalk, converted = false): JsonValue | undefined {
  switch (typeof value) {
    case 'string':
      walk.remaining -= value.length > walk.remaining ? value.length : utf8Length(value) + 2
      return value
    case 'number':
      if (!Number.isFinite(value)) return reject(walk, 'Expected a finite number.')
      walk.remaining -= 8
      return value
    case 'boolean':
      walk.remaining -= 5
      return value
    case 'bigint':
    case 'function':
    case 'symbol':
      return reject(walk, `A ${typeof value} is not JSON-serialisable.`)
    case 'undefined':
      return undefined
  }
  if (value === null) {
    walk.remaining -= 4
    return null
  }
  const object = value as Record<string, unknown> & { toJSON?: () => unknown }
  // Like JSON.stringify: toJSON is called once per value, not again on what it returned.
  if (!converted && typeof object.toJSON === 'function') {
    let replacement: unknown
    try {
      replacement = object.toJSON()
    } catch {
      return reject(walk, 'toJSON() threw.')
    }
    return toJson(replacement, walk, true)
  }
  if (walk.ancestors.length >= MAX_DEPTH) return reject(walk, `Nested deeper than ${MAX_DEPTH} levels.`)
  if (walk.ancestors.includes(object)) return reject(walk, 'Circular reference.')
  walk.ancestors.push(object)
  let result: JsonValue
  if (Array.isArray(object)) {
    const array: JsonValue[] = []
    for (let index = 0; index < object.length && walk.remaining >= 0; index++) {
      walk.path.push(index)
      const item = toJson(object[index], walk)
      walk.path.pop()
      array.push(item === undefined ? null : item)
      walk.remaining -= 1
    }
    result = array
  } else {
    const copy: JsonObject = {}
    for (const key in object) {
      if (!Object.prototype.hasOwnProperty.call(object, key)) continue
      if (walk.remaining < 0) break
      walk.path.push(key)
      const item = toJson(object[key], walk)
      walk.path.pop()
      if (item === undefined) continue
      walk.remaining -= key.length + 4
      // defineProperty, so a `__proto__` key stays data and never becomes the copy's prototype.
      if (key === '__proto__') Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true })
      else copy[key] = item
    }
    result = copy
  }
  walk.ancestors.pop()
  return result
}

/**
 * Copies `object` into `copy` when each of its values is a string, a finite number, a boolean,
 * `null` or `undefined` (left out), as most metadata is, counting bytes as {@link toJson} does but
 * without its walk state, ancestors and path. Returns the bytes left of `maxBytes`, or `undefined`
 * when the object needs the full walk (a nested value, `toJSON`, a non-finite number, …): the
 * walk then decides and reports, starting over.
 */
function copyFlat(object: Record<string, unknown>, copy: JsonObject, maxBytes: number): number | undefined {
  if (typeof object.toJSON === 'function') return undefined
  let remaining = maxBytes
  for (const key in object) {
    if (!Object.prototype.hasOwnProperty.call(object, key)) continue
    if (remaining < 0) break
    const item = object[key]
    if (typeof item === 'string') remaining -= item.length > remaining ? item.length : utf8Length(item) + 2
    else if (typeof item === 'number') {
      if (!Number.isFinite(item)) return undefined
      remaining -= 8
    } else if (typeof item === 'boolean') remaining -= 5
    else if (item === null) remaining -= 4
    else if (item === undefined) continue
    else return undefined
    remaining -= key.length + 4
    // defineProperty, so a `__proto__` key stays data and never becomes the copy's prototype.
    if (key === '__proto__') Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true })
    else copy[key] = item
  }
  return remaining
}

function toJsonObject(value: unknown, key: string, maxBytes: number, issues: Issues, parseStrings: boolean): JsonObject | undefined {
  if (typeof value === 'string' && parseStrings) {
    if (value.length > maxBytes) return issues.add(key, `Larger than the ${maxBytes}-byte limit.`)
    try {
      value = JSON.parse(value)
    } catch {
      return issues.add(key, 'Expected a JSON object.')
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return issues.add(key, 'Expected a JSON object.')
  }
  let copy: JsonObject | undefined = {}
  let remaining = copyFlat(value as Record<string, unknown>, copy, maxBytes)
  const before = issues.list.length
  if (remaining === undefined) {
    const walk: JsonWalk = { remaining: maxBytes, ancestors: [], path: [key], issues }
    copy = toJson(value, walk) as JsonObject | undefined
    remaining = walk.remaining
  }
  if (remaining < 0) return issues.add(key, `Larger than the ${maxBytes}-byte limit.`)
  issues.bytes += maxBytes - remaining
  return issues.list.length === before ? copy : undefined
}

type TokenField = keyof Omit<TokenUsage, 'model'>

// The aliases below are read by name, each at its own place in the code, rather than looked up
// through a table of key lists: in optimised code a named read of an absent property is one check
// of the input's shape, while a read through a variable key is a hash lookup per alias. An input
// carries a handful of the ~30 keys read, so the absent ones are most of the reads.
// Where a field has several names, the canonical one comes first and the first with a value wins.

/** The key `activityType` is read from (the input has none: the canonical one, to report it missing). */
function typeKey(source: Record<string, unknown>): string {
  if (source.activityType != null) return 'activityType'
  if (source.action != null) return 'action'
  if (source.action_type != null) return 'action_type'
  if (source.type != null) return 'type'
  if (source.event != null) return 'event'
  return 'activityType'
}

function timeKey(source: Record<string, unknown>): string | undefined {
  if (source.timestamp != null) return 'timestamp'
  if (source.event_action_timestamp != null) return 'event_action_timestamp'
  if (source.created_at != null) return 'created_at'
  return undefined
}

function userKey(source: Record<string, unknown>): string | undefined {
  if (source.userId != null) return 'userId'
  if (source.user_id != null) return 'user_id'
  return undefined
}

function anonymousKey(source: Record<string, unknown>): string | undefined {
  if (source.anonymousId != null) return 'anonymousId'
  if (source.user_identifier != null) return 'user_identifier'
  return undefined
}

function sessionKey(source: Record<string, unknown>): string | undefined {
  if (source.sessionId != null) return 'sessionId'
  if (source.session_id != null) return 'session_id'
  return undefined
}

function metadataKey(source: Record<string, unknown>): string | undefined {
  if (source.metadata != null) return 'metadata'
  if (source.details != null) return 'details'
  if (source.additional_data != null) return 'additional_data'
  return undefined
}

/** Token count keys, canonical ones included, and the field each feeds. */
const TOKEN_ALIASES: Record<string, TokenField> = {
  input: 'input',
  output: 'output',
  total: 'total',
  cacheRead: 'cacheRead',
  cacheWrite: 'cacheWrite',
  prompt_tokens: 'input',
  completion_tokens: 'output',
  total_tokens: 'total',
  input_tokens: 'input',
  output_tokens: 'output',
  inputTokens: 'input',
  outputTokens: 'output',
  totalTokens: 'total',
  cache_read_input_tokens: 'cacheRead',
  cache_creation_input_tokens: 'cacheWrite',
}

/** Reads a context field given at the top level under `alias`, as `context[field]` unless the context has one. */
function readContextAlias(activity: Activity, alias: string, value: unknown, field: string, issues: Issues, maxStringLength: number): void {
  if (value == null) return
  if (typeof value !== 'string') issues.add([alias], 'Expected a string.')
  else if (value.length > maxStringLength) issues.add([alias], `Expected at most ${maxStringLength} characters.`)
  else (activity.context ??= {})[field] ??= value
}

function readAliases(source: Record<string, unknown>, activity: Activity, issues: Issues, maxStringLength: number): void {
  if (source.durationMs == null) {
    if (source.duration_ms != null) set(activity, 'durationMs', toCount(source.duration_ms, ['duration_ms'], issues, ACTIVITY_LIMITS.maxDurationMs))
    else if (source.timeTaken != null) {
      const seconds = toCount(source.timeTaken, ['timeTaken'], issues, ACTIVITY_LIMITS.maxDurationMs / 1000)
      // Rounded to the microsecond so 3.2 s is 3200 ms, not 3200.0000000000005.
      if (seconds !== undefined) activity.durationMs = Math.round(seconds * 1_000_000) / 1000
    }
  }
  readContextAlias(activity, 'element_id', source.element_id, 'element', issues, maxStringLength)
  readContextAlias(activity, 'page_url', source.page_url, 'page', issues, maxStringLength)
  // Story 4's `/api/track` body names the page at the top level: `"page": "/"`.
  readContextAlias(activity, 'page', source.page, 'page', issues, maxStringLength)
  readContextAlias(activity, 'user_agent', source.user_agent, 'userAgent', issues, maxStringLength)
  readContextAlias(activity, 'ip_address', source.ip_address, 'ip', issues, maxStringLength)
}

function toTokenUsage(value: unknown, path: Path, issues: Issues): TokenUsage | undefined {
  if (typeof value === 'number') {
    const total = toCount(value, path, issues, ACTIVITY_LIMITS.maxTokens)
    return total === undefined ? undefined : { total }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return issues.add(path, 'Expected a number or an object.')
  }
  const usage: Partial<TokenUsage> = {}
  for (const [key, raw] of Object.entries(value)) {
    if (raw == null) continue
    if (key === 'model') {
      if (typeof raw === 'string') usage.model = raw
      else issues.add([...path, key], 'Expected a string.')
      continue
    }
    const field = TOKEN_ALIASES[key]
    if (!field) continue
    const count = toCount(raw, [...path, key], issues, ACTIVITY_LIMITS.maxTokens)
    if (count !== undefined && usage[field] === undefined) usage[field] = count
  }
  if (usage.total === undefined) {
    if (usage.input === undefined && usage.output === undefined) {
      return issues.add(path, 'Expected at least one of total, input or output.')
    }
    usage.total = (usage.input ?? 0) + (usage.output ?? 0)
    // Two counts within the bound can add up past it.
    if (usage.total > ACTIVITY_LIMITS.maxTokens) return issues.add([...path, 'total'], `Expected a number from 0 to ${ACTIVITY_LIMITS.maxTokens}.`)
  }
  return usage as TokenUsage
}

/** The message of a thrown value, whatever it is; never throws. */
export function errorMessage(value: unknown): string {
  try {
    if (value instanceof Error) return value.message || value.name
    const message = (value as { message?: unknown } | null | undefined)?.message
    return typeof message === 'string' ? message : String(value)
  } catch {
    return 'Unknown error'
  }
}

/** Sets `activity[key]` unless `value` is `undefined`. */
export function set<K extends keyof Activity>(activity: Activity, key: K, value: Activity[K] | undefined): void {
  if (value !== undefined) activity[key] = value
}

/**
 * Makes the activity object, a plain object (its prototype is `Object.prototype`). A constructor
 * rather than a literal because V8 sizes what a constructor makes by the fields its objects end up
 * with, while a three-field literal puts the fields added later (`userId`, `metadata`, …) in a
 * second allocation: 24 bytes and one object more per queued activity.
 */
// Built in a pure call so that a bundle that never normalises this way (a browser's) drops it.
const PlainActivity = /* @__PURE__ */ (() => {
  const make = function (this: Activity, activityType: string, timestamp: string) {
    this.id = ''
    this.activityType = activityType
    this.timestamp = timestamp
  }
  make.prototype = Object.prototype
  return make as unknown as new (activityType: string, timestamp: string) => Activity
})()

/**
 * What a normaliser found besides the activity: the estimated bytes of a valid one, the issues of
 * an invalid one. The tracker passes the same object to every call, so that a call allocates no
 * result object; a garbage collection during a burst copies every queued activity, and the fewer
 * bytes each call allocates, the fewer collections a burst takes (the per-call cost in a fresh
 * process halved with this and the reused {@link Issues} below).
 */
export interface NormalizeSlot {
  /** An estimate of the activity's size as JSON, in bytes (what the tracker's byte bounds count). */
  bytes: number
  /** Every issue found; set only when the input was refused. */
  issues: ValidationIssue[]
}

/**
 * An {@link Issues} left by the last valid input, taken by the next call (a call while another
 * runs, from a `toJSON` that tracks, makes its own). Reusing it spares two allocations a call, and
 * keeps its object shape past a garbage collection: V8 forgets a shape no object has any more, and
 * with it the optimised code built for it (normalizeActivity's, after every drained burst).
 */
let spareIssues: Issues | undefined

/**
 * Turns whatever a caller sent into an {@link Activity}, or says exactly what is wrong with it.
 * Pure: no I/O, never throws. Accepts the aliases listed on {@link ActivityInput}; fills `id`
 * (UUIDv7) and `timestamp` (now) when missing; deep-copies `metadata` and `context` into plain JSON.
 *
 * @param input - anything; non-objects are reported, not thrown.
 * @param options - limits; see {@link NormalizeOptions} for defaults.
 */
export function normalizeActivity(input: unknown, options: NormalizeOptions = {}): NormalizeResult {
  const slot: NormalizeSlot = { bytes: 0, issues: [] }
  const activity = normalizeActivityInto(input, options, slot)
  return activity ? { ok: true, activity, bytes: slot.bytes } : { ok: false, issues: slot.issues }
}

/**
 * {@link normalizeActivity} writing its bytes or issues into `slot` rather than a new result: the
 * tracker's form, which allocates nothing on a valid input but the activity itself.
 *
 * @param input - anything; non-objects are reported, not thrown.
 * @param options - limits; see {@link NormalizeOptions} for defaults.
 * @param slot - receives `bytes` of a valid input, `issues` of an invalid one.
 * @returns the activity, or `undefined` when the input was refused.
 */
export function normalizeActivityInto(input: unknown, options: NormalizeOptions, slot: NormalizeSlot): Activity | undefined {
  const issues = spareIssues ?? new Issues()
  spareIssues = undefined
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    issues.add([], 'Expected an activity object.')
    slot.issues = issues.list
    return undefined
  }
  const source = input as Record<string, unknown>
  const maxMetadataBytes = options.maxMetadataBytes ?? NORMALIZE_DEFAULTS.maxMetadataBytes
  const maxStringLength = options.maxStringLength ?? NORMALIZE_DEFAULTS.maxStringLength

  const activityTypeKey = typeKey(source)
  const activityType = toActivityType(source[activityTypeKey], activityTypeKey, issues)

  let nowMs: number | undefined
  let timestamp: string | undefined
  const timestampKey = timeKey(source)
  if (timestampKey !== undefined) timestamp = toIsoTime(source[timestampKey], [timestampKey], issues)
  else {
    nowMs = (options.now ?? Date.now)()
    timestamp = toIsoString(nowMs)
  }

  let id: string | undefined
  if (source.id != null) {
    if (isUuid(source.id)) id = source.id.toLowerCase()
    else issues.add(['id'], 'Expected a UUID.')
  }

  const activity = new PlainActivity(activityType ?? '', timestamp ?? '')

  // The fields of every typical activity are stored by name, not through set(): a store through a
  // variable key that has seen many keys is a generic lookup, several times the cost of a named one.
  const userId = readId(source, userKey(source), issues)
  if (userId !== undefined) activity.userId = userId
  const anonymousId = readId(source, anonymousKey(source), issues)
  if (anonymousId !== undefined) activity.anonymousId = anonymousId
  const sessionId = readId(source, sessionKey(source), issues)
  if (sessionId !== undefined) activity.sessionId = sessionId

  if (source.description != null) {
    if (typeof source.description !== 'string') issues.add(['description'], 'Expected a string.')
    else if (source.description.length > maxStringLength) {
      issues.add(['description'], `Expected at most ${maxStringLength} characters.`)
    } else activity.description = source.description
  }

  if (source.endTime != null) {
    set(activity, 'endTime', toIsoTime(source.endTime, ['endTime'], issues))
  }
  if (source.durationMs != null) set(activity, 'durationMs', toCount(source.durationMs, ['durationMs'], issues, ACTIVITY_LIMITS.maxDurationMs))

  if (source.tokenUsage != null) {
    set(activity, 'tokenUsage', toTokenUsage(source.tokenUsage, ['tokenUsage'], issues))
  }

  if (source.status != null) {
    if (source.status === 'success' || source.status === 'error') activity.status = source.status
    else issues.add(['status'], "Expected 'success' or 'error'.")
  }
  if (source.error != null && source.error !== false) {
    const message = errorMessage(source.error)
    activity.error = message.length > maxStringLength ? message.slice(0, maxStringLength) : message
    activity.status ??= 'error'
  }

  if (source.context != null) {
    const context = toJsonObject(source.context, 'context', maxMetadataBytes, issues, false) as ActivityContext | undefined
    if (context !== undefined) activity.context = context
  }
  readAliases(source, activity, issues, maxStringLength)
  if (source.cost != null) set(activity, 'cost', toCost(source.cost, issues))

  const metadataFrom = metadataKey(source)
  if (metadataFrom !== undefined) {
    const metadata = toJsonObject(source[metadataFrom], metadataFrom, maxMetadataBytes, issues, true)
    if (metadata !== undefined) activity.metadata = metadata
  }

  if (source.receivedAt != null) {
    set(activity, 'receivedAt', toIsoTime(source.receivedAt, ['receivedAt'], issues))
  }

  if (issues.list.length > 0) {
    // The list goes to the caller, so this Issues is not reused.
    slot.issues = issues.list
    return undefined
  }
  activity.id = id ?? uuidv7(nowMs)
  // The id, timestamp, ids, keys and metadata: an estimate is enough for the byte bounds.
  slot.bytes = 160 + activity.activityType.length + (activity.description?.length ?? 0) + issues.bytes
  issues.bytes = 0
  spareIssues = issues
  return activity
}

/** Formats issues as one sentence list, e.g. `metadata.items.3: A bigint is not JSON-serialisable.` */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(input)'}: ${issue.message}`).join(' ')
}

/** The largest `cost.total` (and `input`, `output`) accepted, in USD: far above any single LLM call. */
const MAX_COST_USD = 1_000_000

/** Checks an activity's `cost` (see {@link ActivityCost}), as the pricing package or a client sends it. */
function toCost(value: unknown, issues: Issues): ActivityCost | undefined {
  if (!isPlainObject(value)) return issues.add(['cost'], 'Expected an object.')
  const before = issues.list.length
  const cost: ActivityCost = { currency: 'USD', source: '' }
  for (const key of ['total', 'input', 'output'] as const) {
    if (value[key] == null) continue
    const amount = toCount(value[key], ['cost', key], issues, Number.POSITIVE_INFINITY)
    if (amount !== undefined && amount > MAX_COST_USD) issues.add(['cost', key], `Expected at most ${MAX_COST_USD}.`)
    else if (amount !== undefined) cost[key] = amount
  }
  if (value.currency !== 'USD') issues.add(['cost', 'currency'], "Expected 'USD'.")
  if (typeof value.source !== 'string' || value.source.length === 0 || value.source.length > MAX_TYPE_LENGTH) {
    issues.add(['cost', 'source'], `Expected a non-empty string of at most ${MAX_TYPE_LENGTH} characters.`)
  } else cost.source = value.source
  if (value.unpriced != null) {
    if (typeof value.unpriced !== 'boolean') issues.add(['cost', 'unpriced'], 'Expected a boolean.')
    else if (value.unpriced) cost.unpriced = true
  }
  return issues.list.length === before ? cost : undefined
}
