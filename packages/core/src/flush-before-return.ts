import type { FlushReport, Tracker } from './tracker'

/**
 * The part of a serverless function's context that says how long the invocation may still run:
 * AWS Lambda's `context.getRemainingTimeInMillis()`.
 */
export interface RemainingTimeContext {
  /** Milliseconds left before the platform ends the invocation. */
  getRemainingTimeInMillis(): number
}

/** Options of {@link flushBeforeReturn}. */
export interface FlushBeforeReturnOptions {
  /**
   * Time kept back from the remaining time for returning the answer after the flush, in
   * milliseconds: a flush that runs to the platform's deadline would cost the answer itself.
   * @default 500
   */
  reserveMs?: number
  /**
   * The longest a flush may take whatever time remains, in milliseconds: a function with a
   * 15-minute timeout should not spend it waiting out a sink outage. Also the bound when the
   * context has no `getRemainingTimeInMillis`. @default 10000 (as `shutdown()`)
   */
  maxFlushMs?: number
  /**
   * Receives the flush's report when it did not deliver everything: it timed out (what it waited
   * for is still queued, and goes out during a later invocation of the same instance), or some
   * activities were dropped (each also reported to the tracker's `onDrop`). It may throw; that is
   * swallowed.
   */
  onUndelivered?: (report: FlushReport) => void
}

/** The defaults of {@link FlushBeforeReturnOptions}. */
export const FLUSH_BEFORE_RETURN_DEFAULTS = { reserveMs: 500, maxFlushMs: 10_000 } as const

function checkedMs(value: number | undefined, name: keyof typeof FLUSH_BEFORE_RETURN_DEFAULTS): number {
  const resolved = value ?? FLUSH_BEFORE_RETURN_DEFAULTS[name]
  if (typeof resolved !== 'number' || Number.isNaN(resolved) || resolved < 0) {
    throw new TypeError(`[usertracking] options.${name} must be a number of milliseconds of at least 0; got ${String(resolved)}.`)
  }
  return resolved
}

/**
 * Wraps a serverless handler (AWS Lambda's `async (event, context) => result`, or any platform
 * that freezes or ends the process once the handler returns and has no `waitUntil`) so that it
 * flushes the tracker before returning: after the handler settles, it waits for delivery until
 * `reserveMs` before the deadline `context.getRemainingTimeInMillis()` gives (at most
 * `maxFlushMs`), then returns the handler's result or throws its error. It never throws an error
 * of its own, and never outlives the invocation.
 *
 * ```ts
 * const tracker = createTracker({ sinks: [httpSink({ url: process.env.TRACKING_URL! })] })
 * export const handler = flushBeforeReturn(tracker, async (event: { userId: string }, context: Context) => {
 *   tracker.track({ userId: event.userId, activityType: 'report_generated' })
 *   return { statusCode: 200, body: 'ok' }
 * })
 * ```
 *
 * @param tracker - the tracker to flush, created once per instance (at module scope).
 * @param handler - the function's handler.
 * @param options - see {@link FlushBeforeReturnOptions}; throws a `TypeError` naming the field when one is invalid.
 * @returns the handler to export.
 */
export function flushBeforeReturn<Event, Context extends Partial<RemainingTimeContext> | undefined, Result>(
  tracker: Pick<Tracker, 'flush'>,
  handler: (event: Event, context: Context) => Result | Promise<Result>,
  options: FlushBeforeReturnOptions = {},
): (event: Event, context: Context) => Promise<Result> {
  const reserveMs = checkedMs(options.reserveMs, 'reserveMs')
  const maxFlushMs = checkedMs(options.maxFlushMs, 'maxFlushMs')
  if (options.onUndelivered !== undefined && typeof options.onUndelivered !== 'function') {
    throw new TypeError('[usertracking] options.onUndelivered must be a function.')
  }

  async function flushWithin(context: Context): Promise<void> {
    let timeoutMs = maxFlushMs
    try {
      const remaining = context?.getRemainingTimeInMillis?.()
      if (typeof remaining === 'number' && Number.isFinite(remaining)) timeoutMs = Math.min(maxFlushMs, Math.max(0, remaining - reserveMs))
    } catch {
      // A context that cannot tell its remaining time leaves maxFlushMs as the bound.
    }
    const report = await tracker.flush({ timeoutMs })
    if (report.delivered) return
    try {
      options.onUndelivered?.(report)
    } catch {
      // The answer matters more than this report.
    }
  }

  return async (event, context) => {
    let result: Result
    try {
      result = await handler(event, context)
    } catch (error) {
      await flushWithin(context)
      throw error
    }
    await flushWithin(context)
    return result
  }
}
