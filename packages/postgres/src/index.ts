/** @module @usertracking/postgres */
export { postgresStore } from './postgres-store'
export type { PostgresStore, PostgresStoreOptions } from './postgres-store'
export type { NodePostgresClient, NodePostgresPool, PGliteClient, PostgresClient, PostgresJsSql } from './client-adapter'
export { PostgresStoreError } from './errors'
export { schemaSql, SCHEMA_VERSION, DEFAULT_SCHEMA, DEFAULT_TABLE } from './migrations'
