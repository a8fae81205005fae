import { backoffDelay, unref } from '@usertracking/core'
import type { AdapterOptions, NotificationHandlers, PostgresAdapter, PostgresConnection, PostgresJsSql, Row } from './client-adapter'
import { PostgresStoreError } from './errors'
import { withTimeout } from './timeout'

/** A postgres.js query: lazy until awaited, and cancellable. */
interface PendingQuery extends PromiseLike<Row[]> {
  cancel(): unknown
}

interface Sql {
  unsafe(text: string, params?: readonly unknown[], options?: { prepare?: boolean }): PendingQuery
  begin<T>(work: (transaction: Sql) => Promise<T>): Promise<T>
  /** postgres.js ≥ 3.4: a connection of the pool held until `release()`. */
  reserve?(): Promise<Sql & { release(): void }>
  listen(channel: string, onNotify: (payload: string) => void, onListen?: () => void): Promise<{ unlisten(): Promise<unknown> }>
}

const noop = () => {}

/**
 * postgres.js LISTENs on a connection of its own and, when that connection closes, listens again
 * (calling `onListen` each time). Only a first LISTEN that fails outright (no server within its
 * `connect_timeout`) is retried here.
 */
function listenWith(sql: Sql, channel: string, handlers: NotificationHandlers): () => Promise<void> {
  let stopped = false
  let attempt = 0
  let listens = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let established: Promise<{ unlisten(): Promise<unknown> } | undefined> = Promise.resolve(undefined)
  const start = () => {
    timer = undefined
    if (stopped) return
    established = sql
      .listen(
        channel,
        (payload) => handlers.notify(payload),
        () => handlers.listening(listens++ > 0),
      )
      .then(
        (meta) => meta,
        (error: unknown) => {
          if (!stopped) {
            handlers.lost(error)
            timer = unref(setTimeout(start, backoffDelay(++attempt, 500, 30_000) + 100))
          }
          return undefined
        },
      )
  }
  start()
  return async () => {
    stopped = true
    if (timer !== undefined) clearTimeout(timer)
    await (await established)?.unlisten().catch(noop)
  }
}

/**
 * Wraps a postgres.js `sql`. Every statement and transaction is bounded by
 * `options.queryTimeoutMs` (a statement past it is also cancelled on the server). It offers no
 * `copyFrom`: postgres.js (3.4) loses an error raised by a `COPY … FROM STDIN` once the stream has
 * ended (the writable's final callback then never runs), so a refused row would hang the write
 * forever. Its batches go through `INSERT … SELECT FROM unnest`. postgres.js reports a lost
 * connection by rejecting the queries on it; it has no event that could end the process.
 */
export function postgresJsAdapter(client: PostgresJsSql, options: AdapterOptions): PostgresAdapter {
  const sql = client as unknown as Sql
  // postgres.js prepares its tagged queries by default but never an `unsafe` one unless asked; an
  // unprepared one with parameters costs two round trips (Parse/Describe, then Bind/Execute).
  const prepared = { prepare: true }
  const unprepared = {}
  const within = (target: Sql, limitMs: number): PostgresConnection => ({
    query: (text, params, statement) => {
      const pending = target.unsafe(text, params ?? [], options.prepareStatements === true && statement?.repeated === true ? prepared : unprepared)
      return withTimeout(pending, limitMs, 'A statement', () => {
        try {
          // Best effort: the cancel request travels on a new connection, which a stalled network may also hold.
          Promise.resolve(pending.cancel()).catch(noop)
        } catch {
          // A query that never started has nothing to cancel.
        }
      })
    },
  })
  return {
    driver: 'postgres.js',
    ...within(sql, options.queryTimeoutMs),
    transaction: (work, limitMs = options.queryTimeoutMs) =>
      withTimeout(
        sql.begin((transaction) => work(within(transaction, limitMs))),
        limitMs,
        'A transaction',
      ),
    async session(work) {
      if (typeof sql.reserve !== 'function') {
        throw new PostgresStoreError('Holding one connection (the retention job does, for its advisory lock) needs postgres.js 3.4 or later (sql.reserve).')
      }
      let timedOut = false
      const reserving = sql.reserve()
      // A connection that arrives after the timeout goes straight back.
      reserving.then((late) => timedOut && late.release(), noop)
      const reserved = await withTimeout(reserving, options.queryTimeoutMs, 'Reserving a connection', () => (timedOut = true))
      try {
        return await work(within(reserved, options.queryTimeoutMs))
      } finally {
        reserved.release()
      }
    },
    listen: (channel, handlers) => listenWith(sql, channel, handlers),
  }
}
