import { connect, createServer, type Server, type Socket } from 'node:net'

/** A TCP proxy on 127.0.0.1 in front of a server, that can hold every byte both ways (a stalled database). */
export interface StallProxy {
  port: number
  /** Holds all traffic, on open connections and new ones, until `resume()`. */
  stall(): void
  /** Sends what was held, in order, and lets traffic flow again. */
  resume(): void
  close(): Promise<void>
}

/** Starts the proxy in front of `target`. */
export async function startStallProxy(target: { host: string; port: number }): Promise<StallProxy> {
  let stalled = false
  const held: (() => void)[] = []
  const sockets = new Set<Socket>()
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => {
      if (stalled) held.push(() => to.write(chunk))
      else to.write(chunk)
    })
    from.on('close', () => to.destroy())
    from.on('error', () => to.destroy())
  }
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    }
    forward(client, upstream)
    forward(upstream, client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    stall() {
      stalled = true
    },
    resume() {
      stalled = false
      for (const send of held.splice(0)) send()
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
