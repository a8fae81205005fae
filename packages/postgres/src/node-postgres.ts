import type { NodePostgresClient, NodePostgresPool, PostgresAdapter, PostgresConnection, Row } from './client-adapter'
import { sqlState } from './errors'

interface PgConnection {
  query(text: string): void
  sendCopyFromChunk(chunk: Uint8Array): void
  endCopyFrom(): void
  sendCopyFail(message: string): void
}

interface PgClient {
  query(text: string, values?: readonly unknown[]): Promise<{ rows: Row[] }>
  query(submittable: CopyFromStdin): unknown
  release?(error?: unknown): void
}

interface PgPool {
  connect(): Promise<PgClient>
  query(text: string, values?: readonly unknown[]): Promise<{ rows: Row[] }>
}

// Larger chunks (one activity may be megabytes) go out in pieces, so no single message, and no
// copy of it in the protocol writer, grows with the batch.
const COPY_MESSAGE_BYTES = 1024 * 1024

/**
 * node-postgres has no COPY of its own: pg-copy-streams adds it with a "submittable", an object
 * `client.query()` hands the connection to and then feeds the backend's messages. This is the same
 * protocol in a few lines, so no extra dependency is needed.
 */
class CopyFromStdin {
  private settled = false

  constructor(
    readonly text: string,
    private readonly chunks: Iterable<Uint8Array<ArrayBuffer>>,
    private readonly done: (error?: unknown) => void,
  ) {}

  private settle(error?: unknown): void {
    if (this.settled) return
    this.settled = true
    this.done(error)
  }

  submit(connection: PgConnection): void {
    connection.query(this.text)
    // The data follows the statement without waiting for CopyInResponse, so the batch costs one
    // round trip, and each chunk leaves as soon as it is encoded, so PostgreSQL works on the first
    // rows while this process encodes the next. Safe even when the COPY fails before it starts: a
    // backend outside copy mode ignores CopyData and CopyDone ("per protocol spec", postgres.c),
    // which is what a client still streaming after a failed COPY looks like.
    try {
      for (const chunk of this.chunks) {
        const { buffer, byteOffset, byteLength } = chunk
        for (let offset = 0; offset < byteLength; offset += COPY_MESSAGE_BYTES) {
          // The protocol writer copies each message with Buffer#copy, so it needs Buffer views.
          const length = Math.min(COPY_MESSAGE_BYTES, byteLength - offset)
          connection.sendCopyFromChunk(Buffer.from(buffer, byteOffset + offset, length))
        }
      }
      connection.endCopyFrom()
    } catch (error) {
      // Leave copy mode with the statement failed, so the connection stays usable.
      connection.sendCopyFail(error instanceof Error ? error.message : String(error))
    }
  }

  handleCopyInResponse(): void {}

  handleReadyForQuery(): void {
    this.settle()
  }

  handleError(error: unknown): void {
    this.settle(error)
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

function copyOn(client: PgClient, target: string, chunks: Iterable<Uint8Array<ArrayBuffer>>): Promise<void> {
  return new Promise((resolve, reject) => {
    client.query(
      new CopyFromStdin(`COPY ${target} FROM STDIN WITH (FORMAT binary)`, chunks, (error) =>
        error === undefined ? resolve() : reject(error),
      ),
    )
  })
}

function connectionOf(client: PgClient): PostgresConnection {
  return {
    query: async (text, params) => (await client.query(text, params)).rows,
    copyFrom: (target, chunks) => copyOn(client, target, chunks),
  }
}

/** Whether the connection may be dead after `error`, so a pool must not hand it out again. */
function breaksConnection(error: unknown): boolean {
  const code = sqlState(error)
  return code === undefined || code.startsWith('08') || code.startsWith('57P')
}

async function inTransaction<T>(client: PgClient, work: (connection: PostgresConnection) => Promise<T>): Promise<T> {
  await client.query('BEGIN')
  try {
    const result = await work(connectionOf(client))
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  }
}

/** Wraps a node-postgres `Pool`, `Client` or `PoolClient`. */
export function nodePostgresAdapter(client: NodePostgresPool | NodePostgresClient): PostgresAdapter {
  if ('totalCount' in client) {
    const pool = client as unknown as PgPool
    const withClient = async <T>(work: (connection: PgClient) => Promise<T>): Promise<T> => {
      const pooled = await pool.connect()
      let broken: unknown
      try {
        return await work(pooled)
      } catch (error) {
        if (breaksConnection(error)) broken = error instanceof Error ? error : new Error(String(error))
        throw error
      } finally {
        pooled.release?.(broken)
      }
    }
    return {
      driver: 'node-postgres',
      query: async (text, params) => (await pool.query(text, params)).rows,
      copyFrom: (target, chunks) => withClient((pooled) => copyOn(pooled, target, chunks)),
      transaction: (work) => withClient((pooled) => inTransaction(pooled, work)),
    }
  }
  // One connection: everything takes turns, or a reader's query would land inside the sink's
  // transaction (and fail with it).
  const single = client as unknown as PgClient
  let queue: Promise<unknown> = Promise.resolve()
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const result = queue.then(work, work)
    queue = result.catch(() => undefined)
    return result
  }
  const connection = connectionOf(single)
  return {
    driver: 'node-postgres',
    query: (text, params) => exclusive(() => connection.query(text, params)),
    copyFrom: (target, chunks) => exclusive(() => copyOn(single, target, chunks)),
    transaction: (work) => exclusive(() => inTransaction(single, work)),
  }
}
