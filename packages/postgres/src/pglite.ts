import type { AdapterOptions, PGliteClient, PostgresAdapter, PostgresConnection, Row } from './client-adapter'
import { quoteIdentifier } from './sql-names'
import { withTimeout } from './timeout'

interface PGlite {
  query(text: string, params?: readonly unknown[], options?: { blob?: Blob }): Promise<{ rows: Row[] }>
  exec(script: string): Promise<unknown>
  transaction<T>(work: (transaction: PGlite) => Promise<T>): Promise<T>
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>
}

const noop = () => {}

function connectionOf(db: PGlite, timeoutMs: number): PostgresConnection {
  return {
    query: async (text, params) => (await withTimeout(db.query(text, params ?? []), timeoutMs, 'A statement')).rows,
    // PGlite has no socket to stream into; COPY reads a Blob through its /dev/blob device instead.
    copyFrom: async (target, chunks) => {
      await withTimeout(db.query(`COPY ${target} FROM '/dev/blob' WITH (FORMAT binary)`, [], { blob: new Blob([...chunks]) }), timeoutMs, 'A COPY')
    },
  }
}

/**
 * Wraps a PGlite instance. PGlite runs in this process: there is no connection to lose, and its
 * failures are rejected queries. Statements are still bounded by `options.queryTimeoutMs`, so a
 * database closed or wedged under the store answers instead of hanging.
 */
export function pgliteAdapter(client: PGliteClient, options: AdapterOptions): PostgresAdapter {
  const db = client as unknown as PGlite
  return {
    driver: 'pglite',
    ...connectionOf(db, options.queryTimeoutMs),
    transaction: (work, limitMs = options.queryTimeoutMs) =>
      withTimeout(
        db.transaction((transaction) => work(connectionOf(transaction, limitMs))),
        limitMs,
        'A transaction',
      ),
    // PGlite has one session, shared by every statement of this process.
    session: (work) => work(connectionOf(db, options.queryTimeoutMs)),
    listen: (channel, handlers) => {
      // PGlite takes the channel as SQL: quoted, so its case and punctuation are kept.
      const listening = db.listen(quoteIdentifier(channel), (payload) => handlers.notify(payload)).then(
        (unlisten) => {
          handlers.listening(false)
          return unlisten
        },
        (error: unknown) => {
          handlers.lost(error)
          return undefined
        },
      )
      return async () => {
        await (await listening)?.().catch(noop)
      }
    },
  }
}
