/**
 * PostgreSQL as the activity log: `postgresStore()` over node-postgres, postgres.js or PGlite — an
 * idempotent batch sink, migrations, the reads the server routes serve, live updates over LISTEN /
 * NOTIFY, and a mapping onto a table the app already has.
 *
 * @packageDocumentation
 * @module @usertracking/postgres
 */
export { postgresStore } from './postgres-store'
export type { PostgresStore } from './postgres-store'
export { POSTGRES_STORE_DEFAULTS } from './store-options'
export type { PostgresStoreOptions } from './store-options'
export type { NodePostgresClient, NodePostgresPool, PGliteClient, PostgresClient, PostgresJsSql } from './client-adapter'
export type { ActivityMapping, ColumnPlace, FieldPlace, KeyPlace, MappedField, ValueConversion } from './mapping'
export { PostgresStoreError } from './errors'
export { TableMismatchError } from './mapped-shape'
export { QueryTimeoutError } from './timeout'
export { schemaSql, SCHEMA_VERSION, DEFAULT_SCHEMA, DEFAULT_TABLE } from './migrations'
