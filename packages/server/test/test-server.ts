import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { memoryStore, type Store } from '@usertracking/core'
import type { Principal } from '../src/auth'
import { createActivityHandler, type ActivityHandler, type ActivityHandlerOptions } from '../src/handler'
import { toNodeListener } from '../src/node-listener'

/** A real node:http server on 127.0.0.1 serving the handler, for tests. */
export interface TestServer {
  url: string
  store: Store & { readonly size?: number }
  handler: ActivityHandler
  close(): Promise<void>
}

/**
 * The tests' `authenticate`: `Authorization: Bearer <userId>` signs in as that user, and the token
 * `admin` as an admin; no header is anonymous.
 */
export function bearerAuthenticate(request: Request): Principal | null {
  const token = request.headers.get('authorization')?.replace(/^Bearer /, '')
  if (!token) return null
  return token === 'admin' ? { userId: 'admin', admin: true } : { userId: token }
}

/** Headers that sign a request in as `userId` under {@link bearerAuthenticate}. */
export function as(userId: string): { authorization: string } {
  return { authorization: `Bearer ${userId}` }
}

/** Headers of an admin's request under {@link bearerAuthenticate}. */
export const ADMIN = as('admin')

/**
 * The two ways node:http reaches the handler: `toNodeListener`'s fast path (ingest read and
 * answered without web objects), and the web-standard handler every other runtime calls (wrapped in
 * a plain function, so `toNodeListener` sees no fast path and goes through `Request` / `Response`).
 */
export const TRANSPORTS = ['node fast path', 'web Request / Response'] as const

/** One of {@link TRANSPORTS}. */
export type Transport = (typeof TRANSPORTS)[number]

/** Starts the handler on 127.0.0.1 with {@link bearerAuthenticate} unless the options say otherwise. */
export async function startServer(options: Partial<ActivityHandlerOptions> = {}, transport: Transport = 'node fast path'): Promise<TestServer> {
  const store = options.store ?? memoryStore()
  const handler = createActivityHandler({ onError: () => {}, authenticate: bearerAuthenticate, ...options, store })
  const listener = transport === 'node fast path' ? toNodeListener(handler) : toNodeListener((request, context) => handler(request, context))
  const server: Server = createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    handler,
    async close() {
      handler.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
