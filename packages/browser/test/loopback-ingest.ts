import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Activity } from '@usertracking/core'

/** One request the loopback ingest received. */
export interface Received {
  contentType: string | undefined
  activities: Activity[]
  bytes: number
}

/** An ingest endpoint on 127.0.0.1 for the unit tests, which run in happy-dom on another origin. */
export interface LoopbackIngest {
  /** The endpoint's URL. */
  url: string
  /** Every request, in arrival order; the tests empty it between them. */
  received: Received[]
  /** How requests are answered from now on. @default { status: 200 } */
  reply: { status: number; headers?: Record<string, string>; delayMs?: number }
  close(): Promise<void>
}

/** Starts a {@link LoopbackIngest}: it records each POSTed `{ activities }` before answering it. */
export async function startLoopbackIngest(): Promise<LoopbackIngest> {
  const ingest = { received: [], reply: { status: 200 } } as unknown as LoopbackIngest
  const server = createServer((request, response) => {
    // The test page's origin is not this server's, and happy-dom asks before a cross-origin POST.
    const cors = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'retry-after', 'access-control-allow-headers': '*' }
    if (request.method === 'OPTIONS') {
      response.writeHead(204, cors).end()
      return
    }
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const { activities } = JSON.parse(body) as { activities: Activity[] }
      ingest.received.push({ contentType: request.headers['content-type'], activities, bytes: Buffer.byteLength(body) })
      const { status, headers, delayMs = 0 } = ingest.reply
      setTimeout(() => response.writeHead(status, { ...cors, ...headers }).end('{}'), delayMs)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  ingest.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/activity`
  ingest.close = () => new Promise<void>((resolve) => server.close(() => resolve()))
  return ingest
}
