import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../../test/support/src/free-port'

/** Where a Redis server listens. */
export interface RedisAddress {
  host: string
  port: number
}

/** The Redis this machine and CI run, shared by every engineer's tests (each test run uses its own key prefix). */
export const SHARED_REDIS: RedisAddress = { host: '127.0.0.1', port: 6379 }

/** Whether `redis-server` and `redis-cli` are installed, to start servers and clusters of the tests' own. */
export function redisBinariesInstalled(): boolean {
  return ['redis-server', 'redis-cli'].every((binary) => spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0)
}

/** Sends a raw PING: no client library, so it tells nothing about the client under test. */
export function ping(address: RedisAddress, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(address.port, address.host)
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')))
  })
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`[usertracking] [redis test] ${what} within ${timeoutMs} ms.`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const children = new Set<ChildProcess>()
// A test that crashes must not leave servers behind.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

function launch(args: string[]): ChildProcess {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/** A redis-server of a test's own, on a free port, in a temporary folder. */
export interface OwnRedisServer extends RedisAddress {
  /** Kills it with SIGKILL (a crash: only what the AOF holds survives) and waits for it to exit. */
  crash(): Promise<void>
  /** Starts it again on the same port and folder; it replays its AOF. */
  restart(): Promise<void>
  /** Stops it and removes its folder. */
  stop(): Promise<void>
}

/**
 * Starts a redis-server with AOF on and `appendfsync always`, so every acknowledged write survives
 * a SIGKILL: what the durability a deployment gets from that setting looks like.
 */
export async function startRedisServer(): Promise<OwnRedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'usertracking-redis-'))
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always']
  let child = launch(args)
  const address = { host: '127.0.0.1', port }
  await until(`redis-server on port ${port} did not answer`, () => ping(address))
  return {
    ...address,
    async crash() {
      child.kill('SIGKILL')
      await exited(child)
    },
    async restart() {
      child = launch(args)
      await until(`redis-server on port ${port} did not answer after a restart`, () => ping(address))
    },
    async stop() {
      child.kill('SIGKILL')
      await exited(child)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A Redis Cluster of a test's own. */
export interface OwnRedisCluster {
  nodes: RedisAddress[]
  stop(): Promise<void>
}

function redisCli(args: string[]): string {
  const result = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 60_000 })
  if (result.status !== 0) throw new Error(`[usertracking] [redis test] redis-cli ${args.join(' ')} failed: ${result.stderr || result.stdout}`)
  return result.stdout
}

/**
 * Starts `size` redis-server processes with `--cluster-enabled yes` on free ports (and free
 * cluster bus ports), joins them with `redis-cli --cluster create`, and waits until every node
 * says the cluster is ok. No replicas: the tests are about slots, not failover.
 */
export async function startRedisCluster(size = 3): Promise<OwnRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'usertracking-redis-cluster-'))
  const nodes: RedisAddress[] = []
  const processes: ChildProcess[] = []
  const stop = async () => {
    for (const child of processes) child.kill('SIGKILL')
    await Promise.all(processes.map(exited))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (let index = 0; index < size; index++) {
      const port = await freePort()
      const busPort = await freePort()
      processes.push(
        launch([
          '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
          '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-port', String(busPort),
          '--cluster-node-timeout', '5000',
        ]),
      )
      nodes.push({ host: '127.0.0.1', port })
    }
    for (const node of nodes) await until(`cluster node ${node.port} did not answer`, () => ping(node))
    redisCli(['--cluster', 'create', ...nodes.map((node) => `${node.host}:${node.port}`), '--cluster-replicas', '0', '--cluster-yes'])
    for (const node of nodes) {
      await until(`cluster node ${node.port} did not reach cluster_state:ok`, async () =>
        redisCli(['-h', node.host, '-p', String(node.port), 'cluster', 'info']).includes('cluster_state:ok'),
      )
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { nodes, stop }
}
