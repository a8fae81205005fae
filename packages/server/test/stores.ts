import { PGlite } from '@electric-sql/pglite'
import { memoryStore, type Store } from '@usertracking/core'
import { postgresStore } from '@usertracking/postgres'
import pg from 'pg'

/** A store for one test, and for Postgres stores a look at the tables it writes. */
export interface TestStore {
  store: Store
  /**
   * Every row of each table the store writes, as JSON text per row (`activities`, `identities`,
   * `deletions`); absent for the memory store, whose state is what its reads return.
   */
  tables?: () => Promise<Record<'activities' | 'identities' | 'deletions', string[]>>
  close(): Promise<void>
}

/** A kind of store the privacy tests run over. */
export interface StoreKind {
  name: string
  open(options?: { tombstoneMs?: number }): Promise<TestStore>
}

let counter = 0
const schemaName = () => `server_${process.pid}_${Date.now().toString(36)}_${++counter}`

type Query = (text: string) => Promise<Record<string, unknown>[]>

/** Ends the shared connections of the Postgres kinds; call it in `afterAll`. */
const closers: (() => Promise<void>)[] = []
export async function closeStores(): Promise<void> {
  await Promise.all(closers.splice(0).map((close) => close()))
}

/** A Postgres kind: one connection (or PGlite instance) per test file, one schema per test. */
function postgresKind(name: string, connect: () => Promise<{ client: pg.Pool | PGlite; query: Query; end(): Promise<void> }>): StoreKind {
  let connection: ReturnType<typeof connect> | undefined
  const shared = () => {
    if (!connection) {
      connection = connect()
      closers.push(async () => (await connection!).end())
    }
    return connection
  }
  return {
    name,
    async open(options = {}) {
      const { client, query } = await shared()
      const schema = schemaName()
      const store = postgresStore({ client, schema, ...options })
      await store.migrate()
      const rows = async (table: string) => (await query(`SELECT to_jsonb(t)::text AS row FROM "${schema}"."${table}" t`)).map((row) => String(row.row))
      return {
        store,
        tables: async () => ({
          activities: await rows('user_activities'),
          identities: await rows('user_activities_identities'),
          deletions: await rows('user_activities_deletions'),
        }),
        async close() {
          await query(`DROP SCHEMA "${schema}" CASCADE`)
        },
      }
    },
  }
}

/**
 * The stores the privacy routes are tested over: the memory store, `postgresStore` on PGlite, and
 * `postgresStore` on the PostgreSQL server at `DATABASE_URL` when it is set (CI sets it). Without
 * it, the server run says loudly that it did not run.
 */
export function storeKinds(): StoreKind[] {
  const kinds: StoreKind[] = [
    { name: 'memoryStore', open: async (options = {}) => ({ store: memoryStore(options), close: async () => {} }) },
    postgresKind('postgresStore on PGlite', async () => {
      const db = await PGlite.create()
      return { client: db, query: async (text) => (await db.query<Record<string, unknown>>(text)).rows, end: () => db.close() }
    }),
  ]
  const url = process.env.DATABASE_URL
  if (url) {
    kinds.push(
      postgresKind('postgresStore on the PostgreSQL server', async () => {
        const pool = new pg.Pool({ connectionString: url, max: 4 })
        return { client: pool, query: async (text) => (await pool.query(text)).rows, end: () => pool.end() }
      }),
    )
  } else {
    console.warn('\n*** [usertracking] [server] DID NOT RUN the privacy routes against the PostgreSQL server: DATABASE_URL is not set (PGlite and memory ran). ***\n')
  }
  return kinds
}
