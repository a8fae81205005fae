import type { Readable } from 'node:stream'
import { Miniflare } from 'miniflare'
import type { RuntimeServer } from './runtime'

/** A Worker running on workerd (miniflare starts it as a child process, listening on 127.0.0.1); `output()` is what the Worker printed. */
export type WorkerServer = RuntimeServer

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /** String bindings, as `env.NAME` (vars in wrangler.toml). */
  bindings?: Record<string, string>
  /** Turn on `nodejs_compat` (postgres.js's workerd build needs `node:events` and `node:buffer`). @default false */
  nodejsCompat?: boolean
}

/** The Workers' compatibility date: fixed so that runs repeat, and late enough for `cloudflare:workers`' `waitUntil`. */
export const COMPATIBILITY_DATE = '2025-09-01'

/**
 * Runs one bundled ES module Worker on workerd through miniflare, the way `wrangler dev` does.
 *
 * @param scriptPath - the bundle (see `bundle()`).
 * @param options - see {@link StartWorkerOptions}.
 */
export async function startWorker(scriptPath: string, options: StartWorkerOptions = {}): Promise<WorkerServer> {
  let output = ''
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: options.nodejsCompat ? ['nodejs_compat'] : [],
    bindings: options.bindings ?? {},
    host: '127.0.0.1',
    port: 0,
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
      stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    },
  })
  const url = await mf.ready
  return { url: url.origin, output: () => output, stop: () => mf.dispose() }
}
