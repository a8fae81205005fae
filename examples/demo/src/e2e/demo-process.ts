import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

/** `pnpm start` running as a child process. */
export interface DemoProcess {
  url: string
  /** Everything it printed so far. */
  output(): string
  /** Ctrl-C, then waits for it to exit (SIGKILL after `timeoutMs`); resolves with its exit code. */
  stop(timeoutMs?: number): Promise<number | null>
}

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Starts the demo as `pnpm start` runs it, on a free port and the given data folder, and waits for its "ready" line. */
export async function startDemoProcess(dataDir: string, timeoutMs = 120_000): Promise<DemoProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', '--conditions=@usertracking/source', 'src/main.ts', '--port', '0', '--data', dataDir], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk))
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const stop = async (stopTimeoutMs = 30_000) => {
    if (child.exitCode !== null) return child.exitCode
    child.kill('SIGINT')
    const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs)
    try {
      return await exited
    } finally {
      clearTimeout(timer)
    }
  }
  const deadline = Date.now() + timeoutMs
  let match: RegExpExecArray | null
  while (!(match = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(output))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`The demo did not start:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { url: match[1]!, output: () => output, stop }
}
