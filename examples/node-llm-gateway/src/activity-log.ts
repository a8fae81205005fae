/**
 * Where the gateway's activities land: an ingest endpoint (`POST /api/activity`, idempotent by id)
 * with the log and stats endpoints that read it back. It keeps rows in memory so the example runs
 * anywhere; in production this is a Postgres `activity` table (see `@usertracking/postgres` and the
 * `@usertracking/server` handlers), and nothing in the gateway changes but the URL.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Activity } from '@usertracking/core'

export async function startActivityLog(): Promise<{ baseUrl: string; server: Server }> {
  const rows = new Map<string, Activity & { receivedAt: string }>()
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost')
    const json = (status: number, value: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value))
    }
    if (request.method === 'POST' && url.pathname === '/api/activity') {
      const chunks: Buffer[] = []
      for await (const chunk of request) chunks.push(chunk as Buffer)
      const { activities } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { activities: Activity[] }
      const receivedAt = new Date().toISOString()
      for (const activity of activities) if (!rows.has(activity.id)) rows.set(activity.id, { ...activity, receivedAt })
      return json(200, { stored: activities.length })
    }
    if (request.method === 'GET' && url.pathname === '/api/logs') {
      const userId = url.searchParams.get('userId')
      const items = [...rows.values()]
        .filter((row) => !userId || row.userId === userId)
        .sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.id.localeCompare(b.id))
      return json(200, { items })
    }
    if (request.method === 'GET' && url.pathname === '/api/stats') {
      const byType: Record<string, number> = {}
      const tokensByModel: Record<string, number> = {}
      for (const row of rows.values()) {
        byType[row.activityType] = (byType[row.activityType] ?? 0) + 1
        if (row.tokenUsage) {
          const model = row.tokenUsage.model ?? 'unknown'
          tokensByModel[model] = (tokensByModel[model] ?? 0) + row.tokenUsage.total
        }
      }
      return json(200, { total: rows.size, byType, tokensByModel })
    }
    json(404, { error: 'Not found.' })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}
