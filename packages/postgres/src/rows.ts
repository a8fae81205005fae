import { isUuid, type Activity, type ActivityStatus, type RejectedActivity, type TokenUsage } from '@usertracking/core'
import { BinaryCopyWriter } from './binary-copy'
import type { Row } from './client-adapter'
import { escapeJson, escapeText, unescapeJson, unescapeText } from './nul-escape'
import { epochMicrosSql, microsToIso, toTimestampText } from './time'

/** The columns a write fills but `received_at`, in the order of {@link PreparedRow} and of the COPY data. */
const ACTIVITY_COLUMNS =
  'id, user_id, anonymous_id, session_id, activity_type, description, "timestamp", end_time, duration_ms, status, error, token_usage, context, metadata, cost'

/** Every column a write fills. */
export const WRITE_COLUMNS = `${ACTIVITY_COLUMNS}, received_at`

/**
 * The columns of a COPY: with `received_at` when the batch carries it, without when it does not,
 * so that the column's `DEFAULT now()` stamps the rows with the database's clock.
 */
export function copyColumns(withReceivedAt: boolean): string {
  return withReceivedAt ? WRITE_COLUMNS : ACTIVITY_COLUMNS
}

/** What an INSERT … SELECT from staged rows (or `unnest`) puts in `received_at`. */
export const RECEIVED_AT_OR_NOW = 'coalesce(received_at, now())'

const FIELD_COUNT = 16

/** One activity made ready for the database: strings escaped, JSON stringified, times in milliseconds. */
export interface PreparedRow {
  id: string
  userId: string | null
  anonymousId: string | null
  sessionId: string | null
  activityType: string
  description: string | null
  timestampMs: number
  endTimeMs: number | null
  durationMs: number | null
  status: string | null
  error: string | null
  tokenUsage: string | null
  context: string | null
  metadata: string | null
  cost: string | null
  /** As given to the sink (the ingest handler stamps it); null when the database should stamp it. */
  receivedAtMs: number | null
}

function optionalText(value: unknown): string | null {
  if (value === undefined || value === null) return null
  return escapeText(typeof value === 'string' ? value : String(value))
}

function optionalJson(value: unknown): string | null {
  if (value === undefined || value === null) return null
  const json = JSON.stringify(value)
  return json === undefined ? null : escapeJson(json)
}

function timeMs(value: unknown, field: string): number {
  const ms = typeof value === 'string' ? Date.parse(value) : value instanceof Date ? value.getTime() : Number.NaN
  if (!Number.isFinite(ms)) throw new TypeError(`${field} is not a valid date.`)
  return ms
}

/**
 * Checks what the database cannot be trusted to refuse cleanly (the sink may be handed activities
 * that never went through `normalizeActivity`) and converts the rest. Returns the reason for an
 * activity that cannot be stored.
 */
export function prepareRow(activity: Activity): PreparedRow | { refused: string } {
  try {
    if (!isUuid(activity.id)) return { refused: 'id is not a UUID.' }
    if (typeof activity.activityType !== 'string' || activity.activityType.length === 0) {
      return { refused: 'activityType is missing.' }
    }
    const durationMs = activity.durationMs ?? null
    if (durationMs !== null && (typeof durationMs !== 'number' || !Number.isFinite(durationMs))) {
      return { refused: 'durationMs is not a finite number.' }
    }
    return {
      id: activity.id,
      userId: optionalText(activity.userId),
      anonymousId: optionalText(activity.anonymousId),
      sessionId: optionalText(activity.sessionId),
      activityType: escapeText(activity.activityType),
      description: optionalText(activity.description),
      timestampMs: timeMs(activity.timestamp, 'timestamp'),
      endTimeMs: activity.endTime == null ? null : timeMs(activity.endTime, 'endTime'),
      durationMs,
      status: optionalText(activity.status),
      error: optionalText(activity.error),
      tokenUsage: optionalJson(activity.tokenUsage),
      context: optionalJson(activity.context),
      metadata: optionalJson(activity.metadata),
      cost: optionalJson(activity.cost),
      receivedAtMs: activity.receivedAt == null ? null : timeMs(activity.receivedAt, 'receivedAt'),
    }
  } catch (error) {
    // JSON.stringify throws on a cycle or a BigInt.
    return { refused: error instanceof Error ? error.message : String(error) }
  }
}

// About 50 KB of the apps' activities: big enough to keep per-message overhead low, small enough
// that PostgreSQL starts on the first rows while the next are being encoded.
const ROWS_PER_CHUNK = 128
// The first chunk is small so that the server has rows to store almost at once.
const FIRST_CHUNK_ROWS = 16

/**
 * Prepares a batch lazily, one activity at a time as a COPY consumes {@link BatchPreparation.rows},
 * so that preparing overlaps the server's work. Progress is kept here, not in the generator, so
 * `complete()` finishes the job even when a failed COPY abandoned the generator halfway.
 */
export class BatchPreparation {
  /** The activities prepared so far. */
  readonly prepared: PreparedRow[] = []
  /** The activities refused so far, with why. */
  readonly refused: RejectedActivity[] = []
  private next = 0

  constructor(private readonly batch: readonly Activity[]) {}

  /** Prepares the activities not yet prepared, yielding each one that can be stored. */
  *rows(): Generator<PreparedRow> {
    while (this.next < this.batch.length) {
      const activity = this.batch[this.next++]!
      const row = prepareRow(activity)
      if ('refused' in row) this.refused.push({ id: String(activity?.id), error: row.refused })
      else {
        this.prepared.push(row)
        yield row
      }
    }
  }

  /** Prepares whatever no COPY consumed. */
  complete(): void {
    for (const row of this.rows()) void row
  }
}

/** The binary COPY body for `rows` in chunks of {@link ROWS_PER_CHUNK}, columns as in {@link copyColumns}. */
export function* encodeCopy(rows: Iterable<PreparedRow>, withReceivedAt: boolean): Generator<Uint8Array<ArrayBuffer>> {
  const writer = new BinaryCopyWriter().header()
  let count = 0
  for (const row of rows) {
    writer
      .row(withReceivedAt ? FIELD_COUNT : FIELD_COUNT - 1)
      .uuid(row.id)
      .text(row.userId)
      .text(row.anonymousId)
      .text(row.sessionId)
      .text(row.activityType)
      .text(row.description)
      .timestamptz(row.timestampMs)
      .timestamptz(row.endTimeMs)
      .float8(row.durationMs)
      .text(row.status)
      .text(row.error)
      .jsonb(row.tokenUsage)
      .jsonb(row.context)
      .jsonb(row.metadata)
      .jsonb(row.cost)
    if (withReceivedAt) writer.timestamptz(row.receivedAtMs)
    if (++count === FIRST_CHUNK_ROWS || count % ROWS_PER_CHUNK === 0) yield writer.take()
  }
  yield writer.trailer().take()
}

/**
 * `INSERT … SELECT FROM unnest(…)` for drivers without COPY: one statement (so one round trip and
 * its own transaction) whatever the batch size. Every array is `text[]` or `float8[]` and JSON is
 * cast in SQL, because postgres.js JSON-encodes the elements of a `jsonb[]` parameter itself: handed
 * JSON text, it would store JSON strings instead of objects.
 */
export function unnestInsertSql(qualifiedTable: string): string {
  return `INSERT INTO ${qualifiedTable} (${WRITE_COLUMNS})
SELECT ${unnestSelect('user_id')}
FROM ${UNNEST_ROWS}
ON CONFLICT DO NOTHING`
}

/**
 * The SQL types of {@link unnestParams}' sixteen column arrays, in order: all `text[]` but
 * `duration_ms`'s `float8[]`. The one list {@link UNNEST_ROWS} and the ingest function's parameters
 * are written from.
 */
export const UNNEST_TYPES: readonly string[] = [...Array<string>(8).fill('text[]'), 'float8[]', ...Array<string>(7).fill('text[]')]

const unnestArrays = UNNEST_TYPES.map((type, index) => `$${index + 1}::${type}`)

/**
 * The sixteen column arrays of {@link unnestParams} (`$1` to `$16`) as rows `u`, one column each,
 * and `ordinal`, each row's place in the batch (a join may reorder rows; the batch's order is kept).
 */
export const UNNEST_ROWS = `unnest(${unnestArrays.slice(0, 8).join(', ')},
  ${unnestArrays.slice(8).join(', ')})
  WITH ORDINALITY AS u(id, user_id, anonymous_id, session_id, activity_type, description, ts, end_time, duration_ms, status,
  error, token_usage, context, metadata, cost, received_at, ordinal)`

/** What an INSERT of {@link WRITE_COLUMNS} selects from {@link UNNEST_ROWS}'s columns, with `user` as the user id. */
export function unnestSelect(user: string): string {
  return `id::uuid, ${user}, anonymous_id, session_id, activity_type, description, ts::timestamptz,
  end_time::timestamptz, duration_ms, status, error, token_usage::jsonb, context::jsonb, metadata::jsonb,
  cost::jsonb, coalesce(received_at::timestamptz, now())`
}

/** The sixteen column arrays {@link unnestInsertSql} takes, of the types {@link UNNEST_TYPES} names. */
export function unnestParams(rows: readonly PreparedRow[]): unknown[][] {
  const columns: unknown[][] = Array.from({ length: FIELD_COUNT }, () => new Array(rows.length))
  rows.forEach((row, index) => {
    columns[0]![index] = row.id
    columns[1]![index] = row.userId
    columns[2]![index] = row.anonymousId
    columns[3]![index] = row.sessionId
    columns[4]![index] = row.activityType
    columns[5]![index] = row.description
    columns[6]![index] = toTimestampText(row.timestampMs)
    columns[7]![index] = row.endTimeMs === null ? null : toTimestampText(row.endTimeMs)
    columns[8]![index] = row.durationMs
    columns[9]![index] = row.status
    columns[10]![index] = row.error
    columns[11]![index] = row.tokenUsage
    columns[12]![index] = row.context
    columns[13]![index] = row.metadata
    columns[14]![index] = row.cost
    columns[15]![index] = row.receivedAtMs === null ? null : toTimestampText(row.receivedAtMs)
  })
  return columns
}

/**
 * What a read selects. Times come back as exact epoch microseconds and JSON as text, so the result
 * does not depend on the driver's (or the app's) type parsers; the aliases have no underscore so a
 * postgres.js column transform (`postgres.camel`) leaves them alone, and none is the name of a column
 * an ORDER BY uses (ORDER BY resolves output names first: `id::text AS id` would sort by text and
 * stop the index from serving the order).
 */
export const READ_COLUMNS = `id::text AS activityid, user_id AS userid, anonymous_id AS anonymousid, session_id AS sessionid,
  activity_type AS activitytype, description, ${epochMicrosSql('"timestamp"')} AS timestampus,
  ${epochMicrosSql('end_time')} AS endtimeus, duration_ms AS durationms, status, error,
  token_usage::text AS tokenusage, context::text AS context, metadata::text AS metadata, cost::text AS cost,
  ${epochMicrosSql('received_at')} AS receivedatus, total_tokens AS totaltokens`

function text(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : unescapeText(String(value))
}

function json(value: unknown): unknown {
  if (value === null || value === undefined) return undefined
  return JSON.parse(unescapeJson(String(value)))
}

/** Turns a row selected with {@link READ_COLUMNS} back into the activity that was written. */
export function rowToActivity(row: Row): Activity {
  const activity: Activity = {
    id: String(row.activityid),
    activityType: text(row.activitytype) ?? '',
    timestamp: microsToIso(String(row.timestampus)),
  }
  const userId = text(row.userid)
  if (userId !== undefined) activity.userId = userId
  const anonymousId = text(row.anonymousid)
  if (anonymousId !== undefined) activity.anonymousId = anonymousId
  const sessionId = text(row.sessionid)
  if (sessionId !== undefined) activity.sessionId = sessionId
  const description = text(row.description)
  if (description !== undefined) activity.description = description
  if (row.endtimeus !== null && row.endtimeus !== undefined) activity.endTime = microsToIso(String(row.endtimeus))
  if (row.durationms !== null && row.durationms !== undefined) activity.durationMs = Number(row.durationms)
  const tokenUsage = json(row.tokenusage)
  if (tokenUsage !== undefined) activity.tokenUsage = tokenUsage as TokenUsage
  const status = text(row.status)
  if (status !== undefined) activity.status = status as ActivityStatus
  const error = text(row.error)
  if (error !== undefined) activity.error = error
  const context = json(row.context)
  if (context !== undefined) activity.context = context as Activity['context']
  const metadata = json(row.metadata)
  if (metadata !== undefined) activity.metadata = metadata as Activity['metadata']
  const cost = json(row.cost)
  if (cost !== undefined) activity.cost = cost as Activity['cost']
  activity.receivedAt = microsToIso(String(row.receivedatus))
  return activity
}
