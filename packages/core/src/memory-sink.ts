import type { Activity } from './activity'
import type { Sink, SinkResult } from './sink'

/** Options of {@link memorySink}. */
export interface MemorySinkOptions {
  /** Sink name in logs and stats. @default 'memory' */
  name?: string
  /**
   * Decides each write's result, to rehearse failures in your own tests: return a result to use it
   * instead of storing the batch, or `undefined` to store it.
   */
  respond?: (batch: Activity[], attempt: number) => SinkResult | undefined | Promise<SinkResult | undefined>
}

/** A {@link Sink} that keeps what it receives, for tests and development. */
export interface MemorySink extends Sink {
  /** Every activity stored, in delivery order, without duplicates (a re-sent id is ignored, as databases do). */
  readonly activities: Activity[]
  /** Every batch `write` was called with, including failed attempts. */
  readonly batches: Activity[][]
  /** Forgets everything received. */
  clear(): void
}

/**
 * A sink that stores activities in memory and is idempotent by id, like the database sinks.
 *
 * @param options - see {@link MemorySinkOptions}.
 */
export function memorySink(options: MemorySinkOptions = {}): MemorySink {
  const activities: Activity[] = []
  const batches: Activity[][] = []
  const seen = new Set<string>()
  return {
    name: options.name ?? 'memory',
    activities,
    batches,
    clear() {
      activities.length = 0
      batches.length = 0
      seen.clear()
    },
    async write(batch) {
      batches.push(batch)
      const forced = await options.respond?.(batch, batches.length)
      if (forced) return forced
      for (const activity of batch) {
        if (seen.has(activity.id)) continue
        seen.add(activity.id)
        activities.push(activity)
      }
      return { type: 'success' }
    },
  }
}
