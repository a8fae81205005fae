import type { Tracker } from '@usertracking/core'

/** Options of {@link installShutdownHooks}. */
export interface ShutdownHooksOptions {
  /**
   * How long a shutdown may keep delivering, in milliseconds. Orchestrators wait a limited time
   * after SIGTERM (Kubernetes: 30 s, Cloud Run: 10 s, Heroku: 30 s) before they SIGKILL; what is
   * left stays in a persistent storage for the next start. @default 5000
   */
  timeoutMs?: number
  /** Signals that flush and then end the process. @default ['SIGTERM', 'SIGINT'] */
  signals?: NodeJS.Signals[]
  /** Also shut down when the event loop runs out of work (`beforeExit`). @default true */
  beforeExit?: boolean
}

/**
 * How long past `timeoutMs` storage and sinks may take to close before the process is let go.
 * The tracker bounds its own flush; this bounds a `close()` that never returns.
 */
const CLOSE_GRACE_MS = 1000

/**
 * Shuts `tracker` down when the process is asked to stop, then lets the process end exactly as it
 * would have without these hooks:
 *
 * - On a signal nothing else listens for, the tracker shuts down within `timeoutMs`, then the
 *   signal is raised again with Node's default action, so the process ends by it (exit status 128 +
 *   signal number, as orchestrators expect). A second signal ends the wait at once.
 * - On a signal the application also listens for, ending the process is left to it, as Node does.
 *   The tracker flushes (within `timeoutMs`) but stays open, so requests still finishing can
 *   track; `beforeExit` then shuts it down. When the sink is down this can take `timeoutMs` twice.
 *   An application listener that calls `process.exit()` cuts delivery short (`beforeExit` does not
 *   run then): await `tracker.shutdown()` before it; with file storage, what is left is delivered
 *   on the next start.
 * - On `beforeExit` (the event loop is empty: a script finished), the tracker flushes within
 *   `timeoutMs` and closes; the process then exits with its own `process.exitCode`.
 *
 * Otherwise a sink that is down never holds the process past `timeoutMs` plus one second. The hooks
 * remove themselves once the tracker has shut down.
 *
 * @param tracker - the tracker to shut down.
 * @param options - see {@link ShutdownHooksOptions}.
 * @returns a function that removes the hooks.
 */
export function installShutdownHooks(tracker: Pick<Tracker, 'flush' | 'shutdown'>, options: ShutdownHooksOptions = {}): () => void {
  const timeoutMs = options.timeoutMs ?? 5000
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new TypeError(`[usertracking] [node] The shutdown timeout must be a number of milliseconds, at least 0; got ${String(timeoutMs)}.`)
  }
  const signals = options.signals ?? ['SIGTERM', 'SIGINT']
  let shuttingDown: Promise<void> | undefined
  let flushing: Promise<void> | undefined
  let signalled = false
  let installed = true

  // Unlike the tracker's own timers this one is ref'd: while a shutdown waits on a retry (an
  // unref'd timer), the process must not run out of work and exit with status 0 under it.
  function bounded(work: Promise<unknown>, limitMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const cap = setTimeout(resolve, limitMs)
      void work
        .catch(() => undefined)
        .then(() => {
          clearTimeout(cap)
          resolve()
        })
    })
  }

  function shutdown(): Promise<void> {
    shuttingDown ??= bounded(tracker.shutdown({ timeoutMs }), timeoutMs + CLOSE_GRACE_MS)
    return shuttingDown
  }

  function otherListeners(signal: NodeJS.Signals): number {
    return process.listeners(signal).filter((listener) => listener !== onSignal).length
  }

  function onSignal(signal: NodeJS.Signals): void {
    if (otherListeners(signal) > 0) {
      // The application owns this signal and ends the process itself. Deliver what is pending while
      // it winds down, but keep tracking open: its in-flight requests may still track, and
      // beforeExit shuts the tracker down once it is done.
      flushing ??= bounded(tracker.flush(timeoutMs), timeoutMs).finally(() => {
        flushing = undefined
      })
      return
    }
    if (signalled) {
      uninstall()
      process.kill(process.pid, signal)
      return
    }
    signalled = true
    void shutdown().then(() => {
      uninstall()
      if (otherListeners(signal) === 0) process.kill(process.pid, signal)
    })
  }

  function onBeforeExit(): void {
    if (shuttingDown) return
    void shutdown().then(uninstall)
  }

  function uninstall(): void {
    if (!installed) return
    installed = false
    for (const signal of signals) process.removeListener(signal, onSignal)
    process.removeListener('beforeExit', onBeforeExit)
  }

  for (const signal of signals) process.on(signal, onSignal)
  if (options.beforeExit ?? true) process.on('beforeExit', onBeforeExit)
  return uninstall
}
