import type { TestProject } from 'vitest/node'
import { ping, redisBinariesInstalled, SHARED_REDIS, startRedisCluster, type RedisAddress } from './redis-servers'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The nodes of the 3-node Redis Cluster this run started, or null when redis-server is missing (not under CI). */
    redisCluster: RedisAddress[] | null
    /** Whether the shared Redis at 127.0.0.1:6379 answers. */
    sharedRedis: boolean
  }
}

/**
 * Starts one 3-node Redis Cluster for the whole run (and stops it after), and checks the shared
 * Redis. Without them the suites say loudly that they did not run; under CI=true they fail instead.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const inCi = Boolean(process.env.CI)
  const sharedRedis = await ping(SHARED_REDIS)
  if (!sharedRedis) {
    if (inCi) throw new Error(`[usertracking] [redis] CI=true but no Redis answers at ${SHARED_REDIS.host}:${SHARED_REDIS.port}.`)
    console.warn(`\n*** [usertracking] [redis] DID NOT RUN the tests on the shared Redis: nothing answers at ${SHARED_REDIS.host}:${SHARED_REDIS.port}. Start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no ***\n`)
  }
  project.provide('sharedRedis', sharedRedis)
  if (!redisBinariesInstalled()) {
    if (inCi) throw new Error('[usertracking] [redis] CI=true but redis-server / redis-cli are not installed (apt-get install redis-server).')
    console.warn('\n*** [usertracking] [redis] DID NOT RUN the Redis Cluster and Redis-restart tests: redis-server / redis-cli are not installed. ***\n')
    project.provide('redisCluster', null)
    return async () => {}
  }
  const cluster = await startRedisCluster(3)
  project.provide('redisCluster', cluster.nodes)
  return () => cluster.stop()
}
