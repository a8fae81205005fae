import type { PostgresAdapter } from './client-adapter'
import type { ActivityMapping } from './mapping'
import type { TableAccess } from './postgres-store'
import type { SqlNames } from './sql-names'
export function mappedTable(_a: PostgresAdapter, _n: SqlNames, _m: ActivityMapping, _s: unknown): TableAccess { throw new Error('todo') }
