import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Activity } from '@usertracking/core'

/** How the collector answers: store and 200, 503 (an outage), or never (a hanging backend). */
export type CollectorMode = 'up' | 'down' | 'hang'

/** A loopback ingest endpoint that dedupes by id, as the database sinks do. */
export interface Collector {
  url: string
  mode: CollectorMode
  /** Every distinct activity received, by id. */
  received: Map<string, Activity>
  /** Activities received again after they were already stored (retries after a lost answer). */
  duplicates: number
  requests: number
  connections: number
  close(): Promise<void>
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

export async function startCollector(mode: CollectorMode = 'up'): Promise<Collector> {
  const hanging = new Set<ServerResponse>()
  const collector: Collector = {
    url: '',
    mode,
    received: new Map(),
    duplicates: 0,
    requests: 0,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of hanging) response.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  const server = createServer(async (request, response) => {
    collector.requests++
    const body = await readBody(request).catch(() => '')
    if (collector.mode === 'hang') {
      hanging.add(response)
      return
    }
    if (collector.mode === 'down') {
      response.writeHead(503).end()
      return
    }
    const activities = (JSON.parse(body) as { activities: Activity[] }).activities
    for (const activity of activities) {
      if (collector.received.has(activity.id)) collector.duplicates++
      else collector.received.set(activity.id, activity)
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
  })
  server.on('connection', () => collector.connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  collector.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/activity`
  return collector
}
