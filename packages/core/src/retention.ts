import { MAX_TIMER_MS } from './positive-option'
import { unref } from './unref'

/**
 * How long a store keeps activities: the `retention` option of every built-in store. An activity
 * expires once the earlier of its `timestamp` (when the user acted, which the client sends) and
 * its `receivedAt` (when the store received it, which no client can push forward) is more than
 * `maxAgeDays` ago. So a forged or skewed future `timestamp` cannot keep a row past `maxAgeDays`
 * after it arrived, and a row about something done longer ago than that is never kept. Expired
 * activities are deleted by a background job of the store, or by `store.expireActivities()` from
 * the app's own scheduler; see docs/privacy.md.
 */
export interface RetentionOptions {
  /** Keep activities this many days (a positive number; fractions allowed), then delete them. */
  maxAgeDays: number
  /**
   * Time between two runs of the background job, in milliseconds; the first run comes a minute
   * after the store is created (or after `intervalMs`, if that is shorter), so start-up and
   * `migrate()` go first. Runs never overlap. @default 3600000 (hourly: an expired row lives at most an
   * hour longer, and a run that finds nothing costs one indexed query)
   */
  intervalMs?: number
  /**
   * Whether the store runs the job itself. Turn it off to call `store.expireActivities()` from your
   * own cron instead. @default true
   */
  runInBackground?: boolean
}

/** What `Store.expireActivities` did. */
export interface ExpiryResult {
  /** Activities deleted because they were older than `retention.maxAgeDays`. */
  deleted: number
  /** `true` when another process was expiring the same store's data at that moment, so this call did nothing. */
  skipped?: boolean
}

/** The defaults of {@link RetentionOptions}. */
export const RETENTION_DEFAULTS = {
  intervalMs: 3_600_000,
  runInBackground: true,
} as const

/** The first background run waits at most this long, in milliseconds. */
const FIRST_RUN_MS = 60_000
const DAY_MS = 86_400_000

/** {@link RetentionOptions} checked, in milliseconds. */
export interface ResolvedRetention {
  /** `maxAgeDays` in milliseconds. */
  maxAgeMs: number
  intervalMs: number
  runInBackground: boolean
}

/**
 * Checks a store's `retention` option (undefined when it has none), naming the field at fault.
 *
 * @param retention - the option as given.
 * @param label - the package or store, for the message: `[usertracking] [label] options.retention.…`.
 * @throws TypeError for a value of the wrong type; RangeError for a number out of range.
 */
export function resolveRetention(retention: RetentionOptions | undefined, label: string): ResolvedRetention | undefined {
  if (retention === undefined) return undefined
  const field = (name: string) => `[usertracking] [${label}] options.retention${name}`
  if (typeof retention !== 'object' || retention === null) throw new TypeError(`${field('')} must be an object such as { maxAgeDays: 90 }.`)
  const { maxAgeDays, intervalMs = RETENTION_DEFAULTS.intervalMs, runInBackground = RETENTION_DEFAULTS.runInBackground } = retention
  if (typeof maxAgeDays !== 'number' || !(maxAgeDays > 0) || !Number.isFinite(maxAgeDays)) {
    throw new RangeError(`${field('.maxAgeDays')} must be a positive number of days.`)
  }
  // setTimeout holds at most 2^31 - 1 ms (about 24.8 days); a longer delay would fire at once.
  if (typeof intervalMs !== 'number' || !(intervalMs >= 1) || intervalMs > MAX_TIMER_MS) {
    throw new RangeError(`${field('.intervalMs')} must be a number of milliseconds from 1 to ${MAX_TIMER_MS}.`)
  }
  if (typeof runInBackground !== 'boolean') throw new TypeError(`${field('.runInBackground')} must be true or false.`)
  return { maxAgeMs: maxAgeDays * DAY_MS, intervalMs, runInBackground }
}

/**
 * Whether an activity has expired: the earlier of its `timestamp` and `receivedAt` is before
 * `cutoffMs` (now minus the maximum age). An activity without `receivedAt` counts by `timestamp`.
 */
export function isExpired(activity: { timestamp: string; receivedAt?: string }, cutoffMs: number): boolean {
  const acted = Date.parse(activity.timestamp)
  const received = activity.receivedAt === undefined ? Number.NaN : Date.parse(activity.receivedAt)
  return acted < cutoffMs || received < cutoffMs
}

/** The background job of a store's retention; see {@link startRetentionJob}. */
export interface RetentionJob {
  /** No run starts after this; a run in progress is asked to stop (its signal aborts) and awaited. */
  stop(): Promise<void>
}

/**
 * Runs `expire` in the background: first after a minute (or `intervalMs`, if shorter), then
 * `intervalMs` after each run ends, so runs never overlap. Timers are unref'd (the job never keeps a
 * process alive). A run that rejects goes to `onError`, which is guarded: nothing the job does can
 * reach the host process as an exception or an unhandled rejection.
 *
 * @param expire - one run; stop early (between batches) when `signal` aborts.
 * @param intervalMs - time between the end of a run and the start of the next.
 * @param onError - the store's warning path.
 */
export function startRetentionJob(
  expire: (signal: AbortSignal) => Promise<unknown>,
  intervalMs: number,
  onError: (error: unknown) => void,
): RetentionJob {
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<void> | undefined
  const report = (error: unknown) => {
    try {
      onError(error)
    } catch {
      // The warning path is the last resort; its own failure has nowhere else to go.
    }
  }
  const schedule = (delayMs: number) => {
    if (!controller.signal.aborted) timer = unref(setTimeout(run, delayMs))
  }
  function run(): void {
    timer = undefined
    let attempt: Promise<unknown>
    try {
      attempt = expire(controller.signal)
    } catch (error) {
      attempt = Promise.reject(error)
    }
    running = attempt.then(
      () => undefined,
      (error: unknown) => {
        if (!controller.signal.aborted) report(error)
      },
    )
    void running.then(() => {
      running = undefined
      schedule(intervalMs)
    })
  }
  schedule(Math.min(intervalMs, FIRST_RUN_MS))
  return {
    async stop() {
      controller.abort()
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      await running
    },
  }
}
