import { unref } from '@usertracking/core'
import type { PostgresAdapter } from './client-adapter'
import { notifyIdsSql } from './notifications'

/**
 * Ids waiting to be announced; past this (the database refusing or stalling the NOTIFY for long),
 * the oldest are dropped with a warning: they are stored, only their live push is lost.
 */
export const MAX_UNANNOUNCED_IDS = 10_000

/**
 * The shortest time between the starts of two NOTIFY statements, in ms. A NOTIFY is a statement and
 * a commit of its own: sent after every small write, it doubled the database's statements per
 * ingest request and cost about a fifth of the throughput (docs/benchmarks.md). Waiting this long
 * gathers every write of the gap into one statement, so a busy process sends at most 40 a second;
 * a live feed shows an activity up to this much later (more while a NOTIFY is slow). After a quiet
 * spell the first goes at once.
 */
export const ANNOUNCE_GAP_MS = 25

/** Announces stored ids to the table's subscribers, after their write committed. */
export interface Announcer {
  /**
   * Queues ids whose rows have committed, to be announced in the order given. Returns at once: the
   * write that stored them never waits for the announcement.
   */
  announce(ids: readonly string[]): void
  /** Resolves once every id queued so far was announced, or its announcement failed (never rejects). */
  flushed(): Promise<void>
}

/**
 * Sends the NOTIFY of committed writes on the pool, outside their transactions. A notifying commit
 * holds PostgreSQL's notification queue lock until it has committed, so a NOTIFY inside each write
 * made every write's commit wait for the previous one's. Here one NOTIFY statement is in flight at a
 * time, and the next starts {@link ANNOUNCE_GAP_MS} after it at the earliest; what is announced
 * meanwhile waits and goes in the next one, so a burst of small writes costs a few notifying
 * commits, in the order the writes were announced. A failed NOTIFY
 * (bounded by the adapter's query timeout) is warned about, with the count of ids it carried, and
 * never rejects: the rows are in the table, only their live push is lost.
 */
export function createAnnouncer(adapter: PostgresAdapter, channel: string, warn: (message: string, cause?: unknown) => void): Announcer {
  let queued: string[] = []
  let sending: Promise<void> | undefined
  let droppedWarned = false

  let lastStart = -Infinity

  const sendQueued = async (): Promise<void> => {
    // Ids announced in the same turn of the event loop (a group commit's settled writes) share a statement.
    await Promise.resolve()
    while (queued.length > 0) {
      // A monotonic clock: a wall clock stepped back would hold every NOTIFY (and close()) that much longer.
      const wait = lastStart + ANNOUNCE_GAP_MS - performance.now()
      if (wait > 0) await new Promise((resolve) => unref(setTimeout(resolve, wait)))
      lastStart = performance.now()
      const ids = queued
      queued = []
      const statement = notifyIdsSql(channel, ids)
      if (statement === undefined) continue
      try {
        await adapter.query(statement)
      } catch (error) {
        warn(`Announcing ${ids.length} stored activities on ${channel} failed; they are stored but were not pushed live.`, error)
      }
    }
    droppedWarned = false
  }

  /** Starts a sender unless one runs; one that finishes starts the next if ids came in after its last statement. */
  const pump = (): void => {
    if (sending !== undefined || queued.length === 0) return
    sending = sendQueued().finally(() => {
      sending = undefined
      pump()
    })
  }

  return {
    announce(ids) {
      if (ids.length === 0) return
      for (const id of ids) queued.push(id)
      if (queued.length > MAX_UNANNOUNCED_IDS) {
        queued = queued.slice(queued.length - MAX_UNANNOUNCED_IDS)
        if (!droppedWarned) warn(`More than ${MAX_UNANNOUNCED_IDS} stored activities waited to be announced on ${channel}; the oldest were not pushed live.`)
        droppedWarned = true
      }
      pump()
    },
    async flushed() {
      while (sending !== undefined) await sending
    },
  }
}
