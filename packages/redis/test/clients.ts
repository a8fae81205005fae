import { Cluster, Redis } from 'ioredis'
import type { RedisClient } from '../src/client'
import type { RedisAddress } from './redis-servers'

/** One Redis server, or the nodes of a Cluster: what the suites run against, in each mode. */
export type RedisTarget = { mode: 'standalone'; server: RedisAddress } | { mode: 'cluster'; nodes: RedisAddress[] }

const clients = new Set<RedisClient>()

/**
 * A real ioredis client on the target, as an app would create it (with an `'error'` listener:
 * ioredis prints unhandled connection errors otherwise). `closeClients()` ends every one.
 */
export function createClient(target: RedisTarget, options: { retryDelayMs?: number } = {}): RedisClient {
  // Reconnect quickly in tests that restart Redis; the default backs off to 5 s.
  const retryStrategy = options.retryDelayMs === undefined ? undefined : () => options.retryDelayMs
  const client: RedisClient =
    target.mode === 'standalone'
      ? new Redis({ host: target.server.host, port: target.server.port, ...(retryStrategy ? { retryStrategy } : {}) })
      : new Cluster(target.nodes, retryStrategy ? { clusterRetryStrategy: retryStrategy } : {})
  client.on('error', () => {})
  clients.add(client)
  return client
}

/** Disconnects every client `createClient` made. */
export function closeClients(): void {
  for (const client of clients) client.disconnect()
  clients.clear()
}

let counter = 0

/** A key prefix no other test run (or other engineer's run on the shared Redis) uses. */
export function uniquePrefix(): string {
  counter += 1
  return `ut-test-${process.pid}-${Date.now().toString(36)}-${counter}:`
}

/** Deletes every key under `prefix` (on each master of a Cluster). */
export async function deletePrefix(client: RedisClient, prefix: string): Promise<void> {
  const nodes = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis]
  for (const node of nodes) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await Promise.all(keys.map((key) => node.del(key)))
    } while (cursor !== '0')
  }
}

