import { spawn, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
const inCi = process.env.CI === 'true'

/** The runtimes these suites start, each from the binary its npm package ships. */
export type RuntimeName = 'workerd' | 'deno' | 'bun'

/** Where a runtime's binary is, and whether it starts here. */
export interface Runtime {
  name: RuntimeName
  /** The binary's path. */
  binary: string
  /** What `--version` printed, or `undefined` when it cannot start. */
  version: string | undefined
  /** Why it cannot start. */
  problem: string | undefined
}

function binaryOf(name: RuntimeName): string {
  switch (name) {
    // miniflare's own workerd (the version it was built for), resolved as miniflare resolves it.
    case 'workerd':
      return (createRequire(require.resolve('miniflare'))('workerd') as { default: string }).default
    // The npm package's install API links the platform package's binary (or returns its path).
    case 'deno':
      return (require('deno/install_api.cjs') as { runInstall(): string }).runInstall()
    // Linked by the bun package's postinstall (allowed in pnpm-workspace.yaml's onlyBuiltDependencies).
    case 'bun':
      return join(dirname(require.resolve('bun/package.json')), 'bin', 'bun.exe')
  }
}

/** Finds a runtime and checks that it starts (`--version`, within 30 s). */
export function findRuntime(name: RuntimeName): Runtime {
  let binary = ''
  try {
    binary = binaryOf(name)
    const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 30_000 })
    if (result.status === 0) return { name, binary, version: result.stdout.trim().split('\n')[0], problem: undefined }
    return { name, binary, version: undefined, problem: String(result.error ?? result.stderr ?? `exit ${result.status}`).trim() }
  } catch (error) {
    return { name, binary, version: undefined, problem: error instanceof Error ? error.message : String(error) }
  }
}

/**
 * A runtime the suite needs: on a laptop where it cannot start, the suite says loudly that it did
 * not run (and is skipped); under `CI=true` that fails the run instead.
 *
 * @param name - the runtime.
 * @returns the runtime, or `undefined` when its suite must not run.
 */
export function requireRuntime(name: RuntimeName): Runtime | undefined {
  const runtime = findRuntime(name)
  if (runtime.version) return runtime
  const message = `${name} cannot start here (${runtime.binary || 'no binary'}: ${runtime.problem}). \`pnpm install\` installs it from npm`
  if (inCi) throw new Error(`[usertracking] [runtimes] CI=true but ${message}.`)
  console.warn(`
################################################################################
#  [usertracking] [runtimes] The ${name} suite DID NOT RUN.
#  ${message}.
#  With CI=true this fails the run instead.
################################################################################
`)
  return undefined
}

/** A runtime serving HTTP on 127.0.0.1 as a child process. */
export interface RuntimeServer {
  /** `http://127.0.0.1:<port>`. */
  url: string
  /** Everything it printed so far (stdout and stderr). */
  output(): string
  /** Ends it (SIGTERM, then SIGKILL after 5 s) and waits until it has exited. */
  stop(): Promise<void>
}

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** Variables added to a minimal environment (PATH, HOME). */
  env?: Record<string, string>
  cwd?: string
  /** How long it may take to print `listening <port>`, in ms. @default 60000 */
  readyTimeoutMs?: number
  /** It is killed after this long whatever the test does (and exits by itself), in ms. @default 300000 */
  lifetimeMs?: number
}

/**
 * Starts `binary args` as a child process that serves on 127.0.0.1 and prints `listening <port>`
 * once it does; rejects (with its output) when it exits first or does not within `readyTimeoutMs`.
 *
 * @param binary - the runtime's binary.
 * @param args - its arguments.
 * @param options - see {@link StartServerOptions}.
 */
export function startServer(binary: string, args: string[], options: StartServerOptions = {}): Promise<RuntimeServer> {
  const lifetimeMs = options.lifetimeMs ?? 300_000
  const child = spawn(binary, args, {
    cwd: options.cwd,
    // LIFETIME_MS: the fixture exits by itself after it, should this process die without stopping it.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', LIFETIME_MS: String(lifetimeMs), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  })
  const lifetime = setTimeout(() => child.kill('SIGKILL'), lifetimeMs)
  lifetime.unref()
  const stop = async () => {
    clearTimeout(lifetime)
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(killer)
    }
  }
  return new Promise<RuntimeServer>((resolve, reject) => {
    let listening = false
    const fail = (why: string) => {
      if (listening) return
      clearTimeout(ready)
      void stop().then(() => reject(new Error(`${binary} ${args.join(' ')} ${why}. Its output:\n${output}`)))
    }
    const ready = setTimeout(() => fail(`did not listen within ${options.readyTimeoutMs ?? 60_000} ms`), options.readyTimeoutMs ?? 60_000)
    const read = (chunk: Buffer) => {
      output += chunk.toString('utf8')
      const port = /listening (\d+)/.exec(output)?.[1]
      if (port && !listening) {
        listening = true
        clearTimeout(ready)
        resolve({ url: `http://127.0.0.1:${port}`, output: () => output, stop })
      }
    }
    child.stdout.on('data', read)
    child.stderr.on('data', read)
    child.once('error', (error) => fail(`failed to start (${error.message})`))
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code}) before it listened`))
  })
}
