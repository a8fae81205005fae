import { PostgresStoreError } from './errors'

/** Quotes an identifier, so any name (even one with quotes or spaces) is safe in SQL. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

// PostgreSQL truncates identifiers to 63 bytes; index names append up to 15 to the table's.
const MAX_NAME_BYTES = 48

/** The quoted names every statement of one store uses. */
export interface SqlNames {
  schema: string
  table: string
  /** `"schema"` */
  quotedSchema: string
  /** `"schema"."table"` */
  qualifiedTable: string
  /** `"schema"."usertracking_migrations"` */
  migrationsTable: string
  userTimeIndex: string
  timeIndex: string
  receivedIndex: string
  anonymousIndex: string
  /** The unique index on where a mapped table keeps the activity id. */
  activityIdIndex: string
  /** `"schema"."table_identities"`: anonymous ids linked to the users they signed in as. */
  identitiesTable: string
  identitiesUserIndex: string
  /** `"schema"."table_deletions"`: people deleted, so that late deliveries of theirs are refused. */
  deletionsTable: string
  /** `"schema"."table_ingest"`: the small-batch insert as a function (ingest-function.ts). */
  ingestFunction: string
}

/** Checks and quotes the schema and table names of a store. */
export function sqlNames(schema: string, table: string): SqlNames {
  for (const [field, name] of [
    ['schema', schema],
    ['table', table],
  ] as const) {
    if (typeof name !== 'string' || name.length === 0 || name.includes('\u0000')) {
      throw new PostgresStoreError(`The ${field} name must be a non-empty string without NUL characters.`)
    }
    if (new TextEncoder().encode(name).length > MAX_NAME_BYTES) {
      throw new PostgresStoreError(`The ${field} name "${name}" is longer than ${MAX_NAME_BYTES} bytes.`)
    }
  }
  const quotedSchema = quoteIdentifier(schema)
  return {
    schema,
    table,
    quotedSchema,
    qualifiedTable: `${quotedSchema}.${quoteIdentifier(table)}`,
    migrationsTable: `${quotedSchema}.${quoteIdentifier('usertracking_migrations')}`,
    userTimeIndex: quoteIdentifier(`${table}_user_time_idx`),
    timeIndex: quoteIdentifier(`${table}_time_idx`),
    receivedIndex: quoteIdentifier(`${table}_received_idx`),
    anonymousIndex: quoteIdentifier(`${table}_anonymous_idx`),
    activityIdIndex: quoteIdentifier(`${table}_ut_id_idx`),
    identitiesTable: `${quotedSchema}.${quoteIdentifier(`${table}_identities`)}`,
    identitiesUserIndex: quoteIdentifier(`${table}_ident_user_idx`),
    deletionsTable: `${quotedSchema}.${quoteIdentifier(`${table}_deletions`)}`,
    ingestFunction: `${quotedSchema}.${quoteIdentifier(`${table}_ingest`)}`,
  }
}
