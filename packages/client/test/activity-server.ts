import { createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { PGlite } from '@electric-sql/pglite'
import { memoryStore, type ActivityInput, type Store } from '@usertracking/core'
import { postgresStore } from '@usertracking/postgres'
import { createActivityHandler, toNodeListener, type ActivityHandlerOptions } from '@usertracking/server'

/** A store the client and hook tests run against, and how to release it. */
export interface StoreUnderTest {
  store: Store
  close(): Promise<void>
}

/** The real stores the tests run over: the memory store, and the Postgres store on PGlite. */
export const stores: { name: string; open(): Promise<StoreUnderTest> }[] = [
  { name: 'memory store', open: async () => ({ store: memoryStore(), close: async () => {} }) },
  {
    name: 'postgres store on PGlite',
    open: async () => {
      const db = await PGlite.create()
      const store = postgresStore({ client: db })
      await store.migrate()
      return { store, close: () => db.close() }
    },
  },
]

/** The real server handler on node:http at 127.0.0.1, over a real store. */
export interface ActivityServer {
  /** `http://127.0.0.1:<port>/api` */
  baseUrl: string
  /** Stores activities through the ingest route, as an admin. */
  ingest(activities: ActivityInput[]): Promise<string[]>
  /** Cuts every open live stream connection, as a network cut or a proxy timeout would. */
  dropConnections(): void
  /** Replaces the handler with a new one over the same store, as a server restart does: its live feed starts afresh. */
  restart(): void
  /** Answers the next `count` live stream requests with 503, as a server being deployed would. */
  refuseStreams(count: number): void
  /** The live stream requests the server received, with their `Last-Event-ID`. */
  readonly streamRequests: { lastEventId: string | undefined }[]
  close(): Promise<void>
}

/**
 * The bearer token is the user id; `admin` reads everyone's rows. Real enough for the rules the
 * server applies to principals (a non-admin reads only their own rows), which is what the client
 * and the hooks must show.
 */
export const bearerAuth: ActivityHandlerOptions['authenticate'] = (request) => {
  const token = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1]
  if (!token) return null
  return token === 'admin' ? { userId: 'admin', admin: true } : { userId: token }
}

export async function startActivityServer(store: Store, options: Partial<ActivityHandlerOptions> = {}): Promise<ActivityServer> {
  const create = () => createActivityHandler({ store, authenticate: bearerAuth, cors: true, onError: () => {}, ...options })
  let handler = create()
  let listener = toNodeListener(handler)
  const streamRequests: { lastEventId: string | undefined }[] = []
  let refused = 0
  const streamSockets = new Set<Socket>()
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    if (url.pathname.endsWith('/stream')) {
      const header = request.headers['last-event-id']
      streamSockets.add(request.socket)
      request.socket.once('close', () => streamSockets.delete(request.socket))
      streamRequests.push({ lastEventId: (typeof header === 'string' ? header : undefined) ?? url.searchParams.get('lastEventId') ?? undefined })
      if (refused > 0) {
        refused--
        response.writeHead(503, { 'retry-after': '1' }).end()
        return
      }
    }
    listener(request, response)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    baseUrl: `${origin}/api`,
    async ingest(activities) {
      const response = await fetch(`${origin}/api/activity`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer admin' },
        body: JSON.stringify(activities),
      })
      if (response.status !== 200) throw new Error(`ingest answered ${response.status}: ${await response.text()}`)
      return ((await response.json()) as { ids: string[] }).ids
    },
    dropConnections() {
      for (const socket of streamSockets) socket.destroy()
    },
    streamRequests,
    restart() {
      handler.close()
      for (const socket of streamSockets) socket.destroy()
      handler = create()
      listener = toNodeListener(handler)
    },
    refuseStreams(count) {
      refused = count
    },
    async close() {
      handler.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Waits until `check` passes, reacting to events rather than to a clock; fails after `timeoutMs`. */
export async function eventually(check: () => void, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      check()
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}
