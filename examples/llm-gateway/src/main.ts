/**
 * Runs the gateway on node:http:
 *
 * - `DATABASE_URL`: the app's PostgreSQL (PGlite in memory without it); `DATABASE_SCHEMA` the schema
 *   of its tables (default `public`). Missing tables are created as the app has them.
 * - `UPSTREAM_BASE_URL`, `UPSTREAM_API_KEY`: the OpenAI-compatible model provider (without them, an
 *   echo model on 127.0.0.1, so it runs offline).
 * - `DEMO_API_KEY`: adds the user `did:privy:demo` with this API key, to try it out.
 * - `TRACKING_DIR`: where activities wait for the database, surviving a crash (default `.usertracking`).
 * - `HOST` (default 127.0.0.1) and `PORT` (default 8000, 0 for a free one).
 *
 * SIGINT or SIGTERM stop it: open requests finish, pending activities are written, then the
 * database is closed.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PGlite } from '@electric-sql/pglite'
import { createNodeTracker } from '@usertracking/node'
import type { PostgresClient } from '@usertracking/postgres'
import { toNodeListener } from '@usertracking/server'
import OpenAI from 'openai'
import pg from 'pg'
import { activityStore } from './activity-store'
import { createAppTables, ensureUser, type AppDatabase } from './app-database'
import { startEchoModel } from './echo-model'
import { createGateway } from './gateway'

const url = process.env.DATABASE_URL
const pool = url ? new pg.Pool({ connectionString: url, max: 10 }) : undefined
// An idle pooled client that loses its server emits 'error' on the pool; unheard, it ends the process.
pool?.on('error', (error) => console.error('[llm-gateway] PostgreSQL connection lost:', error.message))
const client: PostgresClient & { query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }> } = pool ?? new PGlite()
const database: AppDatabase = {
  sql: async (text, params) => (await client.query(text, params)).rows as Record<string, unknown>[],
  schema: process.env.DATABASE_SCHEMA || 'public',
}
const store = activityStore(client, database.schema)
const echo = process.env.UPSTREAM_BASE_URL ? undefined : await startEchoModel()
const llm = new OpenAI({
  baseURL: process.env.UPSTREAM_BASE_URL ?? echo!.baseUrl,
  apiKey: process.env.UPSTREAM_API_KEY ?? 'echo',
  // A provider that stalls gets a bounded wait, not the client library's default of ten minutes.
  timeout: 120_000,
  maxRetries: 1,
})
const tracker = createNodeTracker({ sinks: [store.sink], dir: process.env.TRACKING_DIR || '.usertracking', shutdownHooks: false })

async function closeAll(server?: Server): Promise<void> {
  if (server) {
    server.closeIdleConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  await tracker.shutdown()
  echo?.server.close()
  await (pool ? pool.end() : (client as PGlite).close())
}

let gateway: ReturnType<typeof createGateway>
try {
  await createAppTables(database)
  // Checks the activity table's columns and adds the unique index on details ->> 'activity_id'.
  await store.migrate()
  if (process.env.DEMO_API_KEY) await ensureUser(database, 'did:privy:demo', process.env.DEMO_API_KEY)
  gateway = createGateway({ database, tracker, store, llm })
} catch (error) {
  console.error(error)
  await closeAll()
  process.exit(1)
}

const server = createServer(toNodeListener(gateway))
server.listen(Number(process.env.PORT ?? 8000), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo
  const where = url ? `PostgreSQL at ${new URL(url).host}` : 'PostgreSQL in the process (PGlite, in memory)'
  console.log(`LLM gateway on http://${address}:${port}; activity into ${database.schema}.activity of ${where}; model at ${llm.baseURL}`)
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    gateway.close()
    closeAll(server)
      .then(() => console.log('LLM gateway stopped.'))
      .catch((error: unknown) => {
        console.error(error)
        process.exitCode = 1
      })
  })
}
