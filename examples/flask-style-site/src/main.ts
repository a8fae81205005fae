/**
 * Runs the site on node:http. `ADMIN_PASSWORD` (12 characters or more) is required, `ADMIN_USERNAME`
 * defaults to `admin`; `DATA_DIR` keeps the database in files there (PostgreSQL in the process,
 * PGlite, as the seed keeps SQLite in `tracking.db`), in memory without it; `DEBUG=true` turns on the
 * tracking script's debug log; `TRUST_PROXY` is the number of reverse proxies in front; `HOST`
 * (default 127.0.0.1) and `PORT` (default 5000, 0 for a free one) say where it listens.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PGlite } from '@electric-sql/pglite'
import { postgresStore } from '@usertracking/postgres'
import { toNodeListener } from '@usertracking/server'
import { createSite, type Site } from './site'

const dataDir = process.env.DATA_DIR
const database = new PGlite(dataDir)
const store = postgresStore({ client: database })
let site: Site
try {
  site = await createSite({
    store,
    adminPassword: process.env.ADMIN_PASSWORD,
    ...(process.env.ADMIN_USERNAME ? { adminUsername: process.env.ADMIN_USERNAME } : {}),
    tracking: { debug: process.env.DEBUG === 'true' },
    ...(process.env.TRUST_PROXY ? { trustProxy: Number(process.env.TRUST_PROXY) } : {}),
  })
  // "The tracking tables are created automatically when you run the app."
  await store.migrate()
} catch (error) {
  console.error(error instanceof Error ? error.message : error)
  await database.close()
  process.exit(1)
}

const server = createServer(toNodeListener(site))
server.listen(Number(process.env.PORT ?? 5000), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo
  const where = dataDir ? `database in ${dataDir}` : 'database in memory (set DATA_DIR to keep it)'
  console.log(`Site on http://${address}:${port} (admin at /admin/login); ${where}`)
})

async function stop(): Promise<void> {
  site.close()
  server.closeIdleConnections()
  await new Promise((resolve) => server.close(resolve))
  await database.close()
  console.log('Site stopped.')
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stop().catch((error: unknown) => {
      console.error(error)
      process.exitCode = 1
    })
  })
}
