/** Where debug output goes. `console` fits; so does pino or winston. */
export interface Logger {
  debug(message: string, ...details: unknown[]): void
  warn(message: string, ...details: unknown[]): void
  error(message: string, ...details: unknown[]): void
}

const noop = () => {}
const silent: Logger = { debug: noop, warn: noop, error: noop }

/**
 * The logger for a `debug` option: `true` logs to the console, a {@link Logger} is used as is,
 * anything else logs nothing. Every call is guarded: a throwing logger never reaches the caller.
 */
export function createLogger(debug: boolean | Logger | undefined): Logger {
  const target = debug === true ? (typeof console === 'undefined' ? silent : console) : debug || silent
  if (target === silent) return silent
  const guard =
    (level: keyof Logger) =>
    (message: string, ...details: unknown[]) => {
      try {
        target[level](`[usertracking] ${message}`, ...details)
      } catch {
        // A broken logger must not turn tracking into a crash; there is nowhere left to report to.
      }
    }
  return { debug: guard('debug'), warn: guard('warn'), error: guard('error') }
}
