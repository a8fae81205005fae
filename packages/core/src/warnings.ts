import type { DropDetail, DropReason } from './options'
import { createLogger, type Logger } from './logger'

/** Between two warnings of one kind, at least this long, in milliseconds. */
const WARNING_INTERVAL_MS = 60_000

/** The warnings of {@link createWarnings}. */
export interface Warnings {
  /** `count` activities were dropped for `reason`. */
  drop(reason: DropReason, count: number, detail: DropDetail): void
  /** A background error. */
  error(error: unknown): void
}

/**
 * Warnings that need no `debug`: at most one per kind (a drop reason, a kind of background error)
 * per minute, each saying how many it held back since the last. They go to `debug` when it is a
 * {@link Logger}, else to `console.warn`. `filtered` drops (the caller's own `beforeSend`) never warn.
 *
 * @param debug - the tracker's `debug` option.
 */
export function createWarnings(debug: boolean | Logger | undefined): Warnings {
  const logger = createLogger(debug || true)
  const last: Record<string, [at: number, held: number]> = {}
  const warn = (kind: string, count: number, message: string, detail?: unknown) => {
    const now = Date.now()
    const previous = last[kind]
    if (previous && now - previous[0] < WARNING_INTERVAL_MS) {
      previous[1] += count
      return
    }
    last[kind] = [now, 0]
    const held = previous?.[1] ? ` (${previous[1]} more since the last such warning)` : ''
    logger.warn(`${message}${held}`, ...(detail === undefined ? [] : [detail]))
  }
  return {
    drop(reason, count, { sink, error }) {
      if (reason === 'filtered') return
      const why = error instanceof Error ? ` ${error.message}` : ''
      warn(reason, count, `Dropped ${count} activit${count === 1 ? 'y' : 'ies'} (${reason}${sink ? `, sink ${sink}` : ''}).${why}`)
    },
    error(error) {
      warn(`error:${(error as Error | undefined)?.name}`, 1, 'Background error (at most one warning a minute of this kind).', error)
    },
  }
}
