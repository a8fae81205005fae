import { inject } from 'vitest'
import type { RedisTarget } from './clients'
import { SHARED_REDIS } from './redis-servers'

/** The modes every Redis suite runs in: the shared server, and the Cluster the global setup started. */
export function redisModes(): { name: string; target: RedisTarget | undefined }[] {
  const nodes = inject('redisCluster')
  return [
    { name: 'one Redis server', target: inject('sharedRedis') ? { mode: 'standalone', server: SHARED_REDIS } : undefined },
    { name: 'a 3-node Redis Cluster', target: nodes ? { mode: 'cluster', nodes } : undefined },
  ]
}
