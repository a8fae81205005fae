import type { Activity } from '@usertracking/core'

/** The columns of a CSV export, in order. Nested `context` and `metadata` are kept whole, as JSON. */
export const CSV_COLUMNS = [
  'id',
  'timestamp',
  'activityType',
  'userId',
  'anonymousId',
  'sessionId',
  'description',
  'durationMs',
  'tokensInput',
  'tokensOutput',
  'tokensTotal',
  'model',
  'status',
  'error',
  'endTime',
  'receivedAt',
  'page',
  'element',
  'userAgent',
  'ip',
  'context',
  'metadata',
] as const

/**
 * A spreadsheet runs a cell starting with one of these as a formula (CSV injection); a leading
 * apostrophe makes it text. Tab and carriage return are on OWASP's list because some
 * spreadsheets strip them and then see the formula.
 * https://owasp.org/www-community/attacks/CSV_Injection
 */
const FORMULA_START = /^[=+\-@\t\r]/

function textCell(value: string | undefined): string {
  if (value === undefined) return ''
  const safe = FORMULA_START.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}

function numberCell(value: number | undefined): string {
  return value === undefined ? '' : String(value)
}

function jsonCell(value: object | undefined): string {
  return value === undefined ? '' : textCell(JSON.stringify(value))
}

/** The header line of a CSV export, with its CRLF (RFC 4180). */
export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`
}

/** One activity as an RFC 4180 CSV record, with its CRLF. */
export function csvRow(activity: Activity): string {
  const context = activity.context
  return (
    [
      textCell(activity.id),
      textCell(activity.timestamp),
      textCell(activity.activityType),
      textCell(activity.userId),
      textCell(activity.anonymousId),
      textCell(activity.sessionId),
      textCell(activity.description),
      numberCell(activity.durationMs),
      numberCell(activity.tokenUsage?.input),
      numberCell(activity.tokenUsage?.output),
      numberCell(activity.tokenUsage?.total),
      textCell(activity.tokenUsage?.model),
      textCell(activity.status),
      textCell(activity.error),
      textCell(activity.endTime),
      textCell(activity.receivedAt),
      textCell(typeof context?.page === 'string' ? context.page : undefined),
      textCell(typeof context?.element === 'string' ? context.element : undefined),
      textCell(typeof context?.userAgent === 'string' ? context.userAgent : undefined),
      textCell(typeof context?.ip === 'string' ? context.ip : undefined),
      jsonCell(context),
      jsonCell(activity.metadata),
    ].join(',') + '\r\n'
  )
}
