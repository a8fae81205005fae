import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Sink, Store } from '@usertracking/core'
import { createActivityHandler, toNodeListener, type LiveBus, type Principal } from '@usertracking/server'

/** A server instance under test: the real handler on a real node:http server on 127.0.0.1. */
export interface Instance {
  url: string
  /** Posts activities as `token` (a user id, or `admin`); resolves with the HTTP status and the ids the handler answered. */
  post(activities: object[], token?: string): Promise<{ status: number; ids: string[] }>
  close(): Promise<void>
}

/** `Authorization: Bearer <userId>` signs in as that user, the token `admin` as an admin. */
export function bearer(request: Request): Principal | null {
  const token = request.headers.get('authorization')?.replace(/^Bearer /, '')
  if (!token) return null
  return token === 'admin' ? { userId: 'admin', admin: true } : { userId: token }
}

/** Starts one instance over `store`, sharing live activities through `bus`, ingesting into `sink` when given. */
export async function startInstance(options: { store: Store; bus?: LiveBus; sink?: Sink }): Promise<Instance> {
  const handler = createActivityHandler({
    store: options.store,
    authenticate: bearer,
    live: options.bus ? { bus: options.bus } : {},
    ingest: options.sink ? { sink: options.sink } : {},
    onError: () => {},
  })
  const server = createServer(toNodeListener(handler))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    async post(activities, token = 'admin') {
      const response = await fetch(`${url}/api/activity`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(activities),
      })
      const body = (await response.json()) as { ids?: string[] }
      return { status: response.status, ids: body.ids ?? [] }
    },
    async close() {
      handler.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
