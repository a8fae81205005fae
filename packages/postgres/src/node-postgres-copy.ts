/** The part of node-postgres's `Connection` a submittable writes to. */
interface PgConnection {
  query(text: string): void
  sendCopyFromChunk(chunk: Uint8Array): void
  endCopyFrom(): void
  sendCopyFail(message: string): void
}

/** A node-postgres client as far as COPY needs it. */
export interface CopyClient {
  query(submittable: CopyFromStdin): unknown
}

// Larger chunks (one activity may be megabytes) go out in pieces, so no single message, and no
// copy of it in the protocol writer, grows with the batch.
const COPY_MESSAGE_BYTES = 1024 * 1024

/**
 * node-postgres has no COPY of its own: pg-copy-streams adds it with a "submittable", an object
 * `client.query()` hands the connection to and then feeds the backend's messages. This is the same
 * protocol in a few lines, so no extra dependency is needed.
 */
export class CopyFromStdin {
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

/** Runs `COPY <target> FROM STDIN WITH (FORMAT binary)` on `client`, in one round trip. */
export function copyOn(client: CopyClient, target: string, chunks: Iterable<Uint8Array<ArrayBuffer>>): Promise<void> {
  const text = `COPY ${target} FROM STDIN WITH (FORMAT binary)`
  return new Promise((resolve, reject) => {
    client.query(new CopyFromStdin(text, chunks, (error) => (error === undefined ? resolve() : reject(error))))
  })
}
