import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

/** A fixture running in a child process of its own: real process boundaries, real signals. */
export interface FixtureProcess<Info> {
  child: ChildProcess
  /** What the fixture printed on its `ready` line. */
  info: Info
  /** Lines it printed since. */
  lines: string[]
  /** Resolves with the first line (printed so far or later) that `match` accepts. */
  line(match: (line: string) => boolean, timeoutMs?: number): Promise<string>
  /** SIGKILL, as a crash: no handler runs. Resolves once it exited. */
  kill(): Promise<void>
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts `test/fixtures/<name>.ts` with `config` (as JSON in argv) under tsx, from source, and
 * resolves once it prints `ready <json>`. The fixture exits when its stdin closes, so it never
 * outlives the test run.
 */
export function startFixture<Info>(name: string, config: unknown, timeoutMs = 60_000): Promise<FixtureProcess<Info>> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@usertracking/source', join(here, 'fixtures', `${name}.ts`), JSON.stringify(config)], {
    cwd: join(here, '..'),
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  running.add(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  void exited.then(() => running.delete(child))
  const lines: string[] = []
  let partial = ''
  const waiters = new Set<() => void>()
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    partial += chunk
    const parts = partial.split('\n')
    partial = parts.pop()!
    lines.push(...parts)
    for (const wake of waiters) wake()
  })
  const line = (match: (text: string) => boolean, limitMs = timeoutMs) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = lines.find(match)
        if (found === undefined) return false
        cleanup()
        resolve(found)
        return true
      }
      const fail = () => {
        cleanup()
        reject(new Error(`[usertracking] [redis test] The ${name} fixture ${child.exitCode === null && child.signalCode === null ? `printed no expected line within ${limitMs} ms` : 'exited'}; it printed: ${lines.join(' | ')}`))
      }
      const timer = setTimeout(fail, limitMs)
      const cleanup = () => {
        clearTimeout(timer)
        waiters.delete(wake)
        child.off('exit', fail)
      }
      const wake = () => void check()
      if (check()) return
      waiters.add(wake)
      child.once('exit', fail)
    })
  return line((text) => text.startsWith('ready ')).then(
    (ready) => ({
      child,
      info: JSON.parse(ready.slice('ready '.length)) as Info,
      lines,
      line,
      async kill() {
        child.kill('SIGKILL')
        await exited
      },
      async stop() {
        child.stdin!.end()
        child.kill('SIGTERM')
        await exited
      },
    }),
    (error: unknown) => {
      child.kill('SIGKILL')
      throw error
    },
  )
}
