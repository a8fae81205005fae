/**
 * Runs the event log on node:http. `EVENTS_TOKEN` and `METRICS_TOKEN` (16 characters or more) are
 * required; `DATABASE_URL` picks PostgreSQL (PGlite in memory without it) and `DATABASE_SCHEMA` the
 * schema of its table (default `public`); `HOST` (default 127.0.0.1) and `PORT` (default 8080, 0
 * for a free one) where it listens. SIGINT or SIGTERM stop it: open requests finish, then the
 * database is closed.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { toNodeListener, type ActivityHandler } from '@usertracking/server'
import { openDatabase } from './database'
import { createEventLog } from './event-log'

const database = openDatabase({ url: process.env.DATABASE_URL, schema: process.env.DATABASE_SCHEMA })
let handler: ActivityHandler
try {
  handler = createEventLog({ store: database.store, eventsToken: process.env.EVENTS_TOKEN, metricsToken: process.env.METRICS_TOKEN })
  await database.store.migrate()
} catch (error) {
  console.error(error instanceof TypeError ? `${error.message} (EVENTS_TOKEN and METRICS_TOKEN)` : error)
  await database.close()
  process.exit(1)
}

const server = createServer(toNodeListener(handler))
server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo
  console.log(`Event log on http://${address}:${port} (POST /api/event, GET /api/events, GET /api/events/stats, GET /metrics); ${database.label}`)
})

async function stop(): Promise<void> {
  handler.close()
  server.closeIdleConnections()
  await new Promise((resolve) => server.close(resolve))
  await database.close()
  console.log('Event log stopped.')
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stop().catch((error: unknown) => {
      console.error(error)
      process.exitCode = 1
    })
  })
}
