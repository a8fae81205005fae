import { startRetentionJob, type Activity, type ActivityFilter, type ExpiryResult, type Sink, type Store } from '@usertracking/core'
import { toAdapter } from './detect-client'
import { mappedTable } from './mapped-table'
import { createAnnouncer } from './announcer'
import { channelName } from './notifications'
import { ownTable } from './own-table'
import { runExpiry } from './retention'
import { sqlNames } from './sql-names'
import { resolveOptions, type PostgresStoreOptions } from './store-options'
import { createStoreReader } from './store-reader'
import { createSubscriptions } from './subscriptions'

/** A `Store` (from `@usertracking/core`) over PostgreSQL, with the migration that creates or checks its table. */
export interface PostgresStore extends Store {
  readonly sink: Sink
  /**
   * Links an anonymous visitor to the user they signed in as. On a mapped table it needs columns for
   * both `userId` and `anonymousId`, and throws a `TypeError` saying so otherwise.
   */
  identify: NonNullable<Store['identify']>
  /**
   * Deletes one person's activities. On a mapped table it needs a place (column or JSON key) for the
   * id it is given, and throws a `TypeError` saying so otherwise.
   */
  deleteActivities: NonNullable<Store['deleteActivities']>
  /**
   * Deletes what `retention` says is too old: expired activities (whole monthly partitions where
   * the table has them, else rows in batches), identity links older than `maxAgeDays` and expired
   * tombstones. One process at a time per table (a session advisory lock): a call while another
   * runs answers `{ deleted: 0, skipped: true }`. Rejects with a `TypeError` without `retention`.
   */
  expireActivities: NonNullable<Store['expireActivities']>
  /**
   * Pushes activities written by any store over this table, in this process or another, as they
   * commit (LISTEN / NOTIFY, on a connection of its own that reconnects by itself); returns the
   * unsubscribe function. Absent on a mapped table that keeps no activity id.
   */
  subscribe?(filter: ActivityFilter, onActivities: (activities: Activity[]) => void): () => void
  /**
   * Creates (or upgrades) the schema, the table and its indexes; on a mapped table, checks that the
   * mapped columns exist with compatible types (naming the first that does not) and creates only
   * the index that keeps the activity id unique and the store's own side tables. Idempotent, and
   * safe to run from several processes at once; call it at start-up, or apply sql/schema.sql yourself.
   */
  migrate(): Promise<void>
  /**
   * Stops the retention job (a run in progress stops after its current batch, and is awaited),
   * waits until the writes already stored were announced to subscribers (each NOTIFY bounded by
   * `queryTimeoutMs`), stops live updates and closes the LISTEN connection; the app's client is left open.
   */
  close(): Promise<void>
}

/**
 * A store over one PostgreSQL table: `sink` writes batches idempotently by id, `list` pages with an
 * opaque keyset cursor (or an offset), `stats` aggregates (with time and key buckets), `export`
 * streams everything that matches in pages, and `subscribe` pushes new activities from every
 * process writing to the table. With `mapping`, the table is one the app already has.
 *
 * @example
 * ```ts
 * const store = postgresStore({ client: new pg.Pool({ connectionString }) })
 * await store.migrate()
 * const tracker = createTracker({ sinks: [store.sink] })
 * const page = await store.list({ userId: 'u1', sort: 'tokens', limit: 20 })
 * ```
 *
 * @param options - the client, where the table lives, and limits; see {@link PostgresStoreOptions}.
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  const settings = resolveOptions(options)
  const adapter = toAdapter(options.client, {
    queryTimeoutMs: settings.queryTimeoutMs,
    warn: settings.warn,
    prepareStatements: settings.prepareStatements,
  })
  const names = sqlNames(settings.schema, settings.table)
  const table = options.mapping ? mappedTable(adapter, names, options.mapping, settings) : ownTable(adapter, names, settings)
  const reader = createStoreReader(adapter, (work) => table.withShape(work))
  const channel = channelName(settings.schema, settings.table)
  const subscriptions = !table.keepsIds ? undefined : createSubscriptions(adapter, channel, reader.byIds, settings.warn)
  const announcer = settings.notify ? createAnnouncer(adapter, channel, settings.warn) : undefined
  const writer = table.sink(announcer && ((ids) => announcer.announce(ids)))
  const sink: Sink = subscriptions
    ? {
        name: writer.name,
        // A write made just after subscribe() must find the LISTEN in effect, or this process would not hear it.
        write: async (batch, writeOptions) => {
          await subscriptions.settled()
          return writer.write(batch, writeOptions)
        },
      }
    : writer

  const retention = settings.retention
  /** The last `migrate()` call: an expiry waits for it, so a job started with the store never races the table's creation. */
  let migrating: Promise<unknown> = Promise.resolve()
  const expire = async (signal?: AbortSignal): Promise<ExpiryResult> => {
    if (!retention) throw new TypeError('[usertracking] [postgres] expireActivities() needs options.retention ({ maxAgeDays }).')
    await migrating.catch(() => undefined)
    return runExpiry(adapter, names, table, { maxAgeMs: retention.maxAgeMs, tombstoneMs: settings.tombstoneMs }, signal)
  }
  const job = retention?.runInBackground
    ? startRetentionJob(expire, retention.intervalMs, (error) =>
        settings.warn(`The retention job over ${names.qualifiedTable} failed; it runs again in ${retention.intervalMs} ms.`, error),
      )
    : undefined

  const store: PostgresStore = {
    name: 'postgres',
    sink,
    migrate: () => {
      const migration = table.migrate()
      migrating = migration
      return migration
    },
    list: (query) => reader.list(query),
    stats: (query) => reader.stats(query),
    export: (query) => reader.export(query),
    identify: (link) => table.identify(link),
    deleteActivities: (subject) => table.deleteActivities(subject),
    expireActivities: () => expire(),
    close: async () => {
      await job?.stop()
      await announcer?.flushed()
      await subscriptions?.close()
    },
  }
  if (subscriptions) store.subscribe = (filter, onActivities) => subscriptions.subscribe(filter, onActivities)
  return store
}
