import { createServer } from 'node:net'

/**
 * Test scaffolding shared by the packages (imported by relative path, never published): a port
 * nothing listens on right now on 127.0.0.1, for a server a test starts itself (redis-server, the
 * Firestore emulator). Another process may take it before the test binds it; the servers these
 * tests start are the only ones asking on this machine.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
