import { spawn, type ChildProcess } from 'node:child_process'

/** An example's `src/main.ts` running in its own Node process. */
export interface RunningExample {
  child: ChildProcess
  /** The URL it printed once listening. */
  url: string
  /** Everything it printed so far, stdout and stderr. */
  output(): string
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>
}

/**
 * Runs `src/main.ts` of the example in `root` as `pnpm start` does (tsx, from source), with `env`
 * over this process' environment, and resolves once it prints a line `listening` matches (its first
 * group is the URL). Rejects with everything it printed if it exits first.
 */
export function runExample(root: string, env: Record<string, string>, listening: RegExp): Promise<RunningExample> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@usertracking/source', 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGTERM')
    return exited
  }
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8')
      const url = listening.exec(output)?.[1]
      if (url) resolve({ child, url, output: () => output, stop })
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('error', reject)
    void exited.then((code) => reject(new Error(`src/main.ts exited with ${code} before listening:\n${output}`)))
  })
}
