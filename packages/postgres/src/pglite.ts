import type { PGliteClient, PostgresAdapter, PostgresConnection, Row } from './client-adapter'

interface PGlite {
  query(text: string, params?: readonly unknown[], options?: { blob?: Blob }): Promise<{ rows: Row[] }>
  transaction<T>(work: (transaction: PGlite) => Promise<T>): Promise<T>
}

function connectionOf(db: PGlite): PostgresConnection {
  return {
    query: async (text, params) => (await db.query(text, params ?? [])).rows,
    // PGlite has no socket to stream into; COPY reads a Blob through its /dev/blob device instead.
    copyFrom: async (target, chunks) => {
      await db.query(`COPY ${target} FROM '/dev/blob' WITH (FORMAT binary)`, [], { blob: new Blob([...chunks]) })
    },
  }
}

/** Wraps a PGlite instance. */
export function pgliteAdapter(client: PGliteClient): PostgresAdapter {
  const db = client as unknown as PGlite
  return {
    driver: 'pglite',
    ...connectionOf(db),
    transaction: (work) => db.transaction((transaction) => work(connectionOf(transaction))),
  }
}
