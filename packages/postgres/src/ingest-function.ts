import { sqlState } from './errors'
import { screenedInsertSql } from './identity'
import { UNNEST_TYPES } from './rows'
import type { SqlNames } from './sql-names'

/** The types of {@link screenedInsertSql}'s parameters: its sixteen column arrays, then the tombstone window. */
const PARAMETER_TYPES = [...UNNEST_TYPES, 'float8']

/**
 * The small-batch insert ({@link screenedInsertSql}) as a PL/pgSQL function that `migrate()`
 * creates beside the table: `"schema"."table_ingest"`, taking the statement's seventeen parameters
 * and answering its rows.
 *
 * Why a function: the statement screens for deletions and identity links in the same round trip,
 * and PostgreSQL spent more time planning it than running it: 1.1–1.5 ms a write sent as text,
 * 0.5–0.7 ms prepared, for 1 to 4 rows (docs/benchmarks.md). A function keeps the plan of its statement for the life of the
 * connection, like a prepared statement, but needs nothing from the client or the connection
 * pooler: it works behind PgBouncer's transaction pooling, where named prepared statements do not.
 * Calling it is a short statement, cheap to plan every time.
 *
 * SECURITY INVOKER (the default): the caller needs the same rights on the tables as the statement
 * itself. `#variable_conflict use_column`: `id` and `deleted`, the output columns, are also column
 * names in the statement, which must mean the columns.
 */
export function ingestFunctionStatement(names: SqlNames): string {
  const body = `
#variable_conflict use_column
BEGIN
RETURN QUERY ${screenedInsertSql(names)};
END
`
  // The quote that delimits the body must not occur in it (a quoted table name may hold anything).
  let tag = '$usertracking$'
  while (body.includes(tag)) tag = `${tag.slice(0, -1)}_$`
  return `CREATE OR REPLACE FUNCTION ${names.ingestFunction}(${PARAMETER_TYPES.join(', ')})
RETURNS TABLE (id text, deleted boolean) LANGUAGE plpgsql AS ${tag}${body}${tag}`
}

/** Calls the function of {@link ingestFunctionStatement} with the parameters of {@link screenedInsertSql}. */
export function ingestCallSql(names: SqlNames): string {
  return `SELECT id, deleted FROM ${names.ingestFunction}(${PARAMETER_TYPES.map((type, index) => `$${index + 1}::${type}`).join(', ')})`
}

/**
 * Whether a call of the ingest function failed because this database has no usable one: none was
 * created (SQLSTATE 42883: a schema applied by an older `sql/schema.sql`, or `migrate()` not run),
 * or the role may not execute it (42501 raised by the call itself, not by a statement inside the
 * function, whose error names the PL/pgSQL function it came from). The sink then sends the
 * statement itself, which stores the same rows.
 */
export function missingIngestFunction(error: unknown): boolean {
  const state = sqlState(error)
  if (state === '42883') return true
  if (state !== '42501') return false
  const where = (error as { where?: unknown } | null)?.where
  return !(typeof where === 'string' && where.includes('PL/pgSQL'))
}
