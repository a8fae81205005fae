import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { memoryStore, type Store } from '@usertracking/core'
import { createActivityHandler, type ActivityHandler, type ActivityHandlerOptions } from '../src/handler'
import { toNodeListener } from '../src/node-listener'

/** A real node:http server on 127.0.0.1 serving the handler, for tests. */
export interface TestServer {
  url: string
  store: Store & { readonly size?: number }
  handler: ActivityHandler
  close(): Promise<void>
}

export async function startServer(options: Partial<ActivityHandlerOptions> = {}): Promise<TestServer> {
  const store = options.store ?? memoryStore()
  const handler = createActivityHandler({ onError: () => {}, ...options, store })
  const server: Server = createServer(toNodeListener(handler))
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
