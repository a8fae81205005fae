import type { PostgresAdapter, PostgresConnection, PostgresJsSql, Row } from './client-adapter'

interface Sql {
  unsafe(text: string, params?: readonly unknown[]): Promise<Row[]>
  begin<T>(work: (transaction: Sql) => Promise<T>): Promise<T>
}

/**
 * Wraps a postgres.js `sql`. It offers no `copyFrom`: postgres.js (3.4) loses an error raised by a
 * `COPY … FROM STDIN` once the stream has ended (the writable's final callback then never runs), so
 * a refused row would hang the write forever. Its batches go through `INSERT … SELECT FROM unnest`.
 */
export function postgresJsAdapter(client: PostgresJsSql): PostgresAdapter {
  const sql = client as unknown as Sql
  const connectionOf = (target: Sql): PostgresConnection => ({
    query: (text, params) => target.unsafe(text, params ?? []),
  })
  return {
    driver: 'postgres.js',
    ...connectionOf(sql),
    transaction: (work) => sql.begin((transaction) => work(connectionOf(transaction))),
  }
}
