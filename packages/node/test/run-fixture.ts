import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const packageRoot = join(here, '..')

/** The command line that runs a fixture script from source, as the bench runner runs suites. */
export function fixtureCommand(name: string, args: string[]): string[] {
  return ['--import', 'tsx', '--conditions=@usertracking/source', join(here, 'fixtures', `${name}.ts`), ...args]
}

/** A running fixture: its output so far, and a promise of how it ended. */
export interface RunningFixture {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; endedAt: number }>
  /** Resolves once stdout contains `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>
}

/** Starts `test/fixtures/<name>.ts` in a fresh Node process; `command` lets a wrapper (unshare) run it. */
export function startFixture(name: string, args: string[], options: SpawnOptions & { wrapper?: string[] } = {}): RunningFixture {
  const { wrapper, ...spawnOptions } = options
  const nodeArgs = fixtureCommand(name, args)
  const child = wrapper
    ? spawn(wrapper[0]!, [...wrapper.slice(1), process.execPath, ...nodeArgs], { cwd: packageRoot, ...spawnOptions })
    : spawn(process.execPath, nodeArgs, { cwd: packageRoot, ...spawnOptions })
  let out = ''
  let err = ''
  const watchers: { text: string; resolve: () => void }[] = []
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    for (const watcher of [...watchers]) {
      if (out.includes(watcher.text)) {
        watchers.splice(watchers.indexOf(watcher), 1)
        watcher.resolve()
      }
    }
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; endedAt: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, endedAt: Date.now() })),
  )
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(text, timeoutMs = 20_000) {
      if (out.includes(text)) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`Fixture ${name} did not print "${text}" in time.\nstdout: ${out}\nstderr: ${err}`)), timeoutMs)
        watchers.push({
          text,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        })
        void exited.then(() => {
          if (!out.includes(text)) {
            clearTimeout(timer)
            reject(new Error(`Fixture ${name} exited before printing "${text}".\nstdout: ${out}\nstderr: ${err}`))
          }
        })
      })
    },
  }
}
