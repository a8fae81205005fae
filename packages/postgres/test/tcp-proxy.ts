import { once } from 'node:events'
import net from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 in front of the real PostgreSQL server, for failure tests: it can reset
 * every connection (an RST, as a failover or a crashed load balancer sends), reset a connection the
 * moment its client sends a given protocol message (mid-COPY), and stall (stop moving bytes both
 * ways while keeping connections open, as a frozen network does).
 */
export interface TcpProxy {
  /** The port the proxy listens on. */
  readonly port: number
  /** `url` with its host and port replaced by the proxy's. */
  urlFor(url: string): string
  /** Connections open through the proxy. */
  readonly open: number
  /** Resets every open connection now. */
  resetAll(): void
  /**
   * Resets the next connection whose client sends a message of this type (`'d'` CopyData, `'B'`
   * Bind, `'Q'` Query) before that message reaches the server; resolves when it did.
   */
  resetOnMessage(type: string): Promise<void>
  /** Stops forwarding in both directions; new connections are held until {@link TcpProxy.resume}. */
  stall(): void
  /** Forwards again. */
  resume(): void
  close(): Promise<void>
}

interface Pair {
  client: net.Socket
  server: net.Socket | undefined
  reset(): void
}

/** Starts a proxy to `target` (host:port of the real server). */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>()
  const held: (() => void)[] = []
  let stalled = false
  let armed: { code: number; fired: () => void } | undefined

  const listener = net.createServer((client) => {
    const pair: Pair = {
      client,
      server: undefined,
      reset() {
        pairs.delete(pair)
        client.resetAndDestroy()
        pair.server?.resetAndDestroy()
      },
    }
    pairs.add(pair)
    client.on('error', () => pair.reset())
    client.on('close', () => {
      pairs.delete(pair)
      pair.server?.destroy()
    })
    // The frontend's messages, parsed just enough to see their types: the first (startup) has no
    // type byte; every later one is a type byte and a 4-byte length that counts itself.
    let startup = true
    let header = Buffer.alloc(0)
    let skip = 0
    const sees = (chunk: Buffer): boolean => {
      let offset = 0
      while (offset < chunk.length) {
        if (skip > 0) {
          const step = Math.min(skip, chunk.length - offset)
          skip -= step
          offset += step
          continue
        }
        const need = startup ? 4 : 5
        const take = Math.min(need - header.length, chunk.length - offset)
        header = Buffer.concat([header, chunk.subarray(offset, offset + take)])
        offset += take
        if (header.length < need) break
        if (startup) {
          skip = header.readInt32BE(0) - 4
          startup = false
        } else {
          if (armed && header[0] === armed.code) return true
          skip = header.readInt32BE(1) - 4
        }
        header = Buffer.alloc(0)
      }
      return false
    }
    const connect = () => {
      const server = net.connect(target)
      pair.server = server
      server.on('error', () => pair.reset())
      server.on('close', () => {
        pairs.delete(pair)
        client.destroy()
      })
      server.on('data', (chunk) => client.write(chunk))
      client.on('data', (chunk) => {
        if (sees(chunk)) {
          const fired = armed!.fired
          armed = undefined
          pair.reset()
          fired()
          return
        }
        server.write(chunk)
      })
      if (stalled) {
        client.pause()
        server.pause()
      }
    }
    if (stalled) {
      client.pause()
      held.push(connect)
    } else connect()
  })
  listener.listen(0, '127.0.0.1')
  await once(listener, 'listening')
  const { port } = listener.address() as net.AddressInfo

  return {
    port,
    urlFor(url) {
      const parsed = new URL(url)
      parsed.hostname = '127.0.0.1'
      parsed.port = String(port)
      return parsed.toString()
    },
    get open() {
      return pairs.size
    },
    resetAll() {
      for (const pair of [...pairs]) pair.reset()
    },
    resetOnMessage(type) {
      return new Promise((resolve) => {
        armed = { code: type.charCodeAt(0), fired: resolve }
      })
    },
    stall() {
      stalled = true
      for (const pair of pairs) {
        pair.client.pause()
        pair.server?.pause()
      }
    },
    resume() {
      stalled = false
      for (const connect of held.splice(0)) connect()
      for (const pair of pairs) {
        pair.client.resume()
        pair.server?.resume()
      }
    },
    async close() {
      held.length = 0
      for (const pair of [...pairs]) pair.reset()
      await new Promise<void>((resolve) => listener.close(() => resolve()))
    },
  }
}
