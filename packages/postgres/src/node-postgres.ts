import { backoffDelay, settleWithin, unref } from '@usertracking/core'
import type {
  AdapterOptions,
  NodePostgresClient,
  NodePostgresPool,
  NotificationHandlers,
  PostgresAdapter,
  PostgresConnection,
  Row,
} from './client-adapter'
import { sqlState } from './errors'
import { copyOn, type CopyFromStdin } from './node-postgres-copy'
import { quoteIdentifier } from './sql-names'
import { withTimeout } from './timeout'

type Listener = (...args: never[]) => void

interface PgEvents {
  on(event: string, listener: Listener): unknown
  removeListener(event: string, listener: Listener): unknown
}

interface PgClient extends PgEvents {
  query(text: string, values?: readonly unknown[]): Promise<{ rows: Row[] }>
  /** A named statement: parsed once per connection, then only bound and executed. */
  query(config: { name: string; text: string; values?: readonly unknown[] }): Promise<{ rows: Row[] }>
  /** The statement on the wire (pg keeps it public for `cancel`). */
  readonly activeQuery?: unknown
  /** Sends a CancelRequest for `client`'s `query`, on this client's own new connection. */
  cancel?(client: PgClient, query: unknown): void
  /** Where a canceller connects (a `Client`'s own settings). */
  readonly host?: string
  readonly port?: number
  readonly ssl?: unknown
  /** The protocol connection, whose socket errors are events. */
  readonly connection?: PgEvents & { stream?: { destroy(): void; unref?(): void } }
  query(submittable: CopyFromStdin): unknown
  connect(): Promise<unknown>
  end(): Promise<void>
  release?(error?: Error): void
  /** Lets the process exit while this client's socket is open. */
  unref?(): void
  /** pg ≥ 8.17: queries written without waiting for the previous answer; submittables are refused. */
  readonly pipeline?: boolean
}

interface PgPool extends PgEvents {
  connect(): Promise<PgClient>
  listenerCount(event: string): number
  /** The client class and options the pool connects with (pg-pool keeps both public). */
  readonly Client?: new (options: unknown) => PgClient
  readonly options?: { pipeline?: boolean }
}

interface PgNotification {
  channel: string
  payload?: string
}

const noop = () => {}

/** Each repeated statement's name, by text; bounded by the store's fixed texts and 32 per mapped sink (its `MAX_PREPARED_TEXTS`). */
const statementNames = new Map<string, string>()

/**
 * The name a repeated statement is prepared under: the same text gets the same name on every
 * connection and from every store (and every copy of this package) sharing a pool, and two texts
 * share one only by a hash collision (node-postgres would refuse it), about one chance in 2^53 per pair. A 53-bit hash of the text (cyrb53), so names stay
 * under PostgreSQL's 63-byte limit whatever the text.
 */
export function statementName(text: string): string {
  let name = statementNames.get(text)
  if (name === undefined) {
    let h1 = 0xdeadbeef
    let h2 = 0x41c6ce57
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index)
      h1 = Math.imul(h1 ^ code, 2654435761)
      h2 = Math.imul(h2 ^ code, 1597334677)
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
    name = `usertracking_${(4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36)}`
    statementNames.set(text, name)
  }
  return name
}

/** Runs one statement on `client`: named (prepared once per connection) when it repeats and the store prepares statements. */
function runOn(client: PgClient, text: string, params: readonly unknown[] | undefined, prepared: boolean): Promise<{ rows: Row[] }> {
  return prepared ? client.query({ name: statementName(text), text, values: params }) : client.query(text, params)
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value))
}

/**
 * Asks the server to cancel the statement `client` is running, as pg's own `Client#cancel` does: a
 * CancelRequest on a new connection made by `canceller`. Without it a statement abandoned on
 * timeout runs on in its backend, holding its locks (and, on the app's single client, every
 * statement queued behind it), even after its socket was closed. Best effort: a cancel that cannot
 * connect is given up after `timeoutMs`, and nothing it does can throw or emit unheard. Resolves
 * once the server closed the cancel connection (it has taken the request) or it was given up.
 */
function cancelRunning(client: PgClient, makeCanceller: () => PgClient | undefined, timeoutMs: number): Promise<void> {
  const running = client.activeQuery
  if (running === undefined || running === null) return Promise.resolve()
  try {
    const canceller = makeCanceller()
    const send = canceller?.cancel?.bind(canceller)
    if (canceller === undefined || send === undefined) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = () => resolve()
      canceller.on('error', noop)
      canceller.connection?.on('error', done)
      canceller.connection?.on('end', done)
      send(client, running)
      const socket = canceller.connection?.stream
      unref(
        setTimeout(() => {
          socket?.destroy()
          done()
        }, timeoutMs),
      )
      socket?.unref?.()
    })
  } catch {
    // An unusual client (a pg-compatible library without cancel): the timeout still answers.
    return Promise.resolve()
  }
}

/** Whether the connection may be dead after `error`, so a pool must not hand it out again. */
function breaksConnection(error: unknown): boolean {
  const code = sqlState(error)
  return code === undefined || code.startsWith('08') || code.startsWith('57P')
}

/**
 * A client checked out of the pool for one unit of work. While it is held it has an `'error'`
 * listener: node-postgres emits a lost connection as an `'error'` event on the client, and a
 * checked-out client has no other listener (the pool's is detached while it is out), so without
 * this one a reset during a COPY or a terminated backend ends the process. Such a client, and
 * one whose statement timed out, goes back to the pool as broken (`release(error)`), which
 * destroys it.
 */
class HeldClient {
  private broken: unknown
  private released = false
  private readonly onError = (error: unknown) => {
    this.broken ??= error
  }

  constructor(
    private readonly client: PgClient,
    private readonly timeoutMs: number,
    private readonly makeCanceller: () => PgClient | undefined,
    private readonly prepareStatements: boolean,
  ) {
    client.on('error', this.onError)
  }

  private run<T>(what: string, work: (client: PgClient) => Promise<T>): Promise<T> {
    if (this.broken !== undefined) return Promise.reject(asError(this.broken))
    return withTimeout(work(this.client), this.timeoutMs, what, (timeout) => this.abandon(timeout)).catch((error: unknown) => {
      if (breaksConnection(error)) this.broken ??= error
      throw error
    })
  }

  readonly connection: PostgresConnection = {
    query: async (text, params, options) =>
      (await this.run('A statement', (client) => runOn(client, text, params, this.prepareStatements && options?.repeated === true))).rows,
    copyFrom: (target, chunks) => this.run('A COPY', (client) => copyOn(client, target, chunks)),
  }

  async transaction<T>(work: (connection: PostgresConnection) => Promise<T>): Promise<T> {
    await this.connection.query('BEGIN')
    try {
      const result = await work(this.connection)
      await this.connection.query('COMMIT')
      return result
    } catch (error) {
      // Skipped on a broken connection: the server rolls back what a dead session left open.
      if (this.broken === undefined) await this.connection.query('ROLLBACK').catch(noop)
      throw error
    }
  }

  /** After a timeout: cancels what runs on the server, and gives the client back as broken. */
  abandon(timeout: unknown): void {
    // The client is destroyed right after: no later statement runs on its backend for the cancel to hit.
    if (!this.released) void cancelRunning(this.client, this.makeCanceller, this.timeoutMs)
    this.release(timeout)
  }

  /** Gives the client back; as broken (so the pool destroys it) after a lost connection or a timeout. */
  release(error?: unknown): void {
    if (this.released) return
    this.released = true
    this.broken ??= error
    this.client.removeListener('error', this.onError)
    this.client.release?.(this.broken === undefined ? undefined : asError(this.broken))
  }
}

/**
 * LISTEN on a connection of its own that the pool does not count (a client made with the pool's own
 * class and options), reconnecting with backoff after it is lost.
 */
function listenOnPool(pool: PgPool, channel: string, handlers: NotificationHandlers, options: AdapterOptions): () => Promise<void> {
  let stopped = false
  let attempt = 0
  let everListened = false
  let current: PgClient | undefined
  let timer: ReturnType<typeof setTimeout> | undefined

  const connect = async () => {
    timer = undefined
    if (stopped) return
    if (!pool.Client) {
      handlers.lost(new Error('This pool does not expose its Client class; LISTEN needs a connection of its own.'))
      return
    }
    const client = new pool.Client(pool.options)
    current = client
    let failed = false
    const fail = (error: unknown) => {
      if (failed) return
      failed = true
      client.removeListener('notification', onNotification)
      client.end().catch(noop)
      if (stopped) return
      handlers.lost(error)
      timer = unref(setTimeout(start, backoffDelay(++attempt, 500, 30_000) + 100))
    }
    const onNotification = (message: PgNotification) => {
      if (message.channel === channel) handlers.notify(message.payload ?? '')
    }
    // An 'error' listener for the whole life of this client, so a lost connection never ends the process.
    client.on('error', fail)
    client.on('end', () => fail(new Error('The LISTEN connection ended.')))
    client.on('notification', onNotification)
    try {
      await withTimeout(client.connect(), options.queryTimeoutMs, 'Connecting for LISTEN', fail)
      // Listening alone never keeps the process alive; a server is kept alive by its own socket.
      client.unref?.()
      await withTimeout(client.query(`LISTEN ${quoteIdentifier(channel)}`), options.queryTimeoutMs, 'LISTEN', fail)
    } catch (error) {
      fail(error)
      return
    }
    if (failed || stopped) return
    attempt = 0
    handlers.listening(everListened)
    everListened = true
  }
  // Whatever throws while connecting (even constructing the client) is a lost connection, never an unhandled rejection.
  const start = () => {
    connect().catch((error: unknown) => handlers.lost(error))
  }
  start()
  return async () => {
    stopped = true
    if (timer !== undefined) clearTimeout(timer)
    await current?.end().catch(noop)
  }
}

/** LISTEN on the app's single client: it cannot be replaced, so a lost connection is reported and stays lost. */
function listenOnClient(
  client: PgClient,
  exclusive: <T>(work: () => Promise<T>) => Promise<T>,
  channel: string,
  handlers: NotificationHandlers,
  options: AdapterOptions,
): () => Promise<void> {
  const onNotification = (message: PgNotification) => {
    if (message.channel === channel) handlers.notify(message.payload ?? '')
  }
  const onError = (error: unknown) => handlers.lost(error)
  client.on('notification', onNotification)
  client.on('error', onError)
  const listen = `LISTEN ${quoteIdentifier(channel)}`
  exclusive(() => withTimeout(client.query(listen), options.queryTimeoutMs, 'LISTEN')).then(() => handlers.listening(false), onError)
  return async () => {
    client.removeListener('notification', onNotification)
    client.removeListener('error', onError)
    await exclusive(() => withTimeout(client.query(`UNLISTEN ${quoteIdentifier(channel)}`), options.queryTimeoutMs, 'UNLISTEN')).catch(noop)
  }
}

/**
 * Wraps a node-postgres `Pool`, `Client` or `PoolClient`. Every statement, connection attempt and
 * transaction is bounded by `options.queryTimeoutMs`; a statement past it is cancelled on the
 * server, and a pooled client that timed out or lost its connection is destroyed, never handed out again.
 */
export function nodePostgresAdapter(client: NodePostgresPool | NodePostgresClient, options: AdapterOptions): PostgresAdapter {
  const timeoutMs = options.queryTimeoutMs
  const prepareStatements = options.prepareStatements === true
  if ('totalCount' in client) {
    const pool = client as unknown as PgPool
    // pg emits a lost idle connection on the pool; with no listener there, that ends the process.
    if (pool.listenerCount('error') === 0) {
      pool.on('error', (error: unknown) =>
        options.warn('An idle node-postgres client lost its connection; the pool replaces it. (This listener was added because the pool had none.)', error),
      )
    }
    const canceller = () => (pool.Client ? new pool.Client(pool.options) : undefined)
    const checkOut = (limitMs: number): Promise<HeldClient> => {
      let timedOut = false
      const connecting = pool.connect()
      // A connection that arrives after the timeout goes straight back.
      connecting.then((late) => timedOut && late.release?.(), noop)
      return withTimeout(connecting, limitMs, 'Connecting', () => (timedOut = true)).then((pooled) => new HeldClient(pooled, limitMs, canceller, prepareStatements))
    }
    const withClient = async <T>(limitMs: number, work: (held: HeldClient) => Promise<T>): Promise<T> => {
      const held = await checkOut(limitMs)
      try {
        return await work(held)
      } finally {
        held.release()
      }
    }
    return {
      driver: 'node-postgres',
      query: (text, params, statement) => withClient(timeoutMs, (held) => held.connection.query(text, params, statement)),
      // pg refuses submittables (the COPY) on a pipelined client; those batches take the unnest path.
      ...(pool.options?.pipeline
        ? {}
        : { copyFrom: (target, chunks) => withClient(timeoutMs, (held) => held.connection.copyFrom!(target, chunks)) }),
      transaction: (work, limitMs = timeoutMs) =>
        withClient(limitMs, (held) => withTimeout(held.transaction(work), limitMs, 'A transaction', (timeout) => held.abandon(timeout))),
      session: (work) => withClient(timeoutMs, (held) => work(held.connection)),
      listen: (channel, handlers) => listenOnPool(pool, channel, handlers, options),
    }
  }
  // One connection: everything takes turns, or a reader's query would land inside the sink's
  // transaction (and fail with it). It stays the app's: never destroyed, even after a timeout.
  const single = client as unknown as PgClient
  single.on('error', (error: unknown) =>
    options.warn('The node-postgres Client lost its connection and cannot be used again; give the store a Pool, which replaces lost connections.', error),
  )
  let queue: Promise<unknown> = Promise.resolve()
  /** A statement abandoned on timeout, until it ended and its cancel request was taken (bounded). */
  let abandoned: Promise<unknown> = Promise.resolve()
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const start = () => abandoned.then(work)
    const result = queue.then(start, start)
    queue = result.catch(noop)
    return result
  }
  // A canceller connects where the app's client does; pg's Client class is the client's own.
  const SingleClient = single.constructor as new (options: unknown) => PgClient
  const cancelling = (running: PromiseLike<unknown>) => () => {
    const cancelled = cancelRunning(single, () => new SingleClient({ host: single.host, port: single.port, ssl: single.ssl }), timeoutMs)
    // The next statement waits until this one ended and the server took the cancel request: a cancel
    // arriving later would stop that statement instead. Bounded, so a dead network holds nothing for long.
    abandoned = settleWithin(Promise.all([Promise.resolve(running).catch(noop), cancelled]), timeoutMs, () => undefined).catch(noop)
  }
  const within = (limitMs: number): PostgresConnection => ({
    query: async (text, params, statement) => {
      const running = runOn(single, text, params, prepareStatements && statement?.repeated === true)
      return (await withTimeout(running, limitMs, 'A statement', cancelling(running))).rows
    },
    copyFrom: (target, chunks) => {
      const running = copyOn(single, target, chunks)
      return withTimeout(running, limitMs, 'A COPY', cancelling(running))
    },
  })
  const connection = within(timeoutMs)
  return {
    driver: 'node-postgres',
    query: (text, params, statement) => exclusive(() => connection.query(text, params, statement)),
    ...(single.pipeline ? {} : { copyFrom: (target, chunks) => exclusive(() => connection.copyFrom!(target, chunks)) }),
    transaction: (work, limitMs = timeoutMs) =>
      exclusive(async () => {
        const inside = within(limitMs)
        await inside.query('BEGIN')
        try {
          const working = work(inside)
          const result = await withTimeout(working, limitMs, 'A transaction', cancelling(working))
          await inside.query('COMMIT')
          return result
        } catch (error) {
          await inside.query('ROLLBACK').catch(noop)
          throw error
        }
      }),
    // The client's one session: each statement takes its turn, so the sink and the reader are not held up between them.
    session: (work) => work({ query: (text, params, statement) => exclusive(() => connection.query(text, params, statement)) }),
    listen: (channel, handlers) => listenOnClient(single, exclusive, channel, handlers, options),
  }
}
