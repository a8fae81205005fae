import { isUuid, type Activity, type ActivitySortKey, type StatsGroupKey } from '@usertracking/core'
import type { Row } from './client-adapter'
import { escapeText, unescapeText } from './nul-escape'
import { READ_COLUMNS, rowToActivity } from './rows'
import type { SqlNames } from './sql-names'

/** Filters compared for equality with a stored value. */
export type EqualityField = 'userId' | 'anonymousId' | 'sessionId' | 'activityType' | 'status'

/**
 * How the reader finds each part of an activity in one table: SQL expressions over its columns.
 * An expression that is `undefined` is a field the table does not keep; a read that needs it is
 * refused with a `RangeError` naming the filter, sort or grouping.
 */
export interface TableShape {
  /** `"schema"."table"`. */
  qualifiedTable: string
  /** The select list of a read; its rows go to {@link TableShape.toActivity}. */
  selectList: string
  /** The activity a selected row holds. */
  toActivity(row: Row): Activity | Promise<Activity>
  /** Equality expressions (`text` on the SDK's table; whatever the mapping says otherwise). */
  equality: Partial<Record<EqualityField, string>>
  /**
   * Turns a filter value into the parameter the equality expression compares with, and the cast
   * that parameter needs (`''` for none); throws a `RangeError` naming the field when it cannot.
   */
  equalityParam(field: EqualityField, value: string): Promise<{ value: unknown; cast: string }> | { value: unknown; cast: string }
  /** `timestamptz` expressions of the two time axes. */
  timestamp: string
  receivedAt: string | undefined
  /** `double precision` expressions of the numeric sort keys (NULL when the activity has none). */
  durationMs: string | undefined
  totalTokens: string | undefined
  /** `numeric` expressions of the summed figures (NULL when absent). */
  inputTokens: string | undefined
  outputTokens: string | undefined
  costTotal: string | undefined
  /** `boolean`: the activity carries a cost marked unpriced. */
  costUnpriced: string | undefined
  /** `text` expressions of the grouping keys. */
  groupKeys: Partial<Record<StatsGroupKey, string>>
  /** Turns a grouping key as selected (text) back into what the activity holds. */
  groupKeyValue(per: StatsGroupKey, text: string): Promise<string> | string
  /**
   * The column that makes every order total (the activity id, or the table's primary key): its
   * expression, the cast a cursor's text needs to compare with it, and a check of that text.
   */
  tieBreaker: { sql: string; cast: string; accepts(text: string): boolean }
  /** The selected aliases holding the tie-breaker (as text) and the sort keys of a row. */
  positionAliases: { tieBreaker: string; timestampMicros: string; durationMs: string; totalTokens: string }
  /**
   * Where the activity id is kept, for reading rows by the ids a notification names, and the cast
   * of a text array to compare with it; `undefined` when the table keeps no id.
   */
  activityId: { sql: string; arrayCast: string } | undefined
}

/** A JSON string field of `context`, or NULL when it is absent or not a string. */
function contextText(field: string): string {
  return `CASE WHEN jsonb_typeof(context -> '${field}') = 'string' THEN context ->> '${field}' END`
}

/** A JSON number field of a `jsonb` column as `numeric`, or NULL when it is absent or not a number. */
export function jsonNumber(column: string, field: string): string {
  return `CASE WHEN jsonb_typeof(${column} -> '${field}') = 'number' THEN (${column} ->> '${field}')::numeric END`
}

/** Which sort keys a shape can serve, by the expression behind each. */
export function sortExpression(shape: TableShape, sort: ActivitySortKey): string | undefined {
  return sort === 'timestamp' ? shape.timestamp : sort === 'durationMs' ? shape.durationMs : shape.totalTokens
}

/** The SDK's own table, as `migrate()` creates it. */
export function defaultShape(names: SqlNames): TableShape {
  return {
    qualifiedTable: names.qualifiedTable,
    selectList: READ_COLUMNS,
    toActivity: rowToActivity,
    equality: {
      userId: 'user_id',
      anonymousId: 'anonymous_id',
      sessionId: 'session_id',
      activityType: 'activity_type',
      status: 'status',
    },
    equalityParam: (_field, value) => ({ value: escapeText(value), cast: '' }),
    timestamp: '"timestamp"',
    receivedAt: 'received_at',
    durationMs: 'duration_ms',
    totalTokens: 'total_tokens',
    inputTokens: jsonNumber('token_usage', 'input'),
    outputTokens: jsonNumber('token_usage', 'output'),
    costTotal: jsonNumber('cost', 'total'),
    costUnpriced: `cost -> 'unpriced' = 'true'::jsonb`,
    groupKeys: {
      user: 'user_id',
      visitor: 'coalesce(user_id, anonymous_id)',
      activityType: 'activity_type',
      page: contextText('page'),
      host: contextText('host'),
    },
    groupKeyValue: (_per, text) => unescapeText(text),
    tieBreaker: { sql: 'id', cast: '::uuid', accepts: isUuid },
    positionAliases: { tieBreaker: 'activityid', timestampMicros: 'timestampus', durationMs: 'durationms', totalTokens: 'totaltokens' },
    activityId: { sql: 'id', arrayCast: '::uuid[]' },
  }
}
