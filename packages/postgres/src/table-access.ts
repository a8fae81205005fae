import type { DeletionResult, DeletionSubject, IdentifyResult, IdentityLink, Sink } from '@usertracking/core'
import type { PostgresConnection } from './client-adapter'
import type { TableShape } from './table-shape'

/** What a store needs from the table it sits on: the SDK's own table, or an app's mapped one. */
export interface TableAccess {
  /**
   * Runs `work` with how to read the table. A mapped table's shape comes from its catalog, read once
   * and kept: when `work` fails because a column does not exist (the app changed its table since),
   * the catalog is read again and `work` runs once more.
   */
  withShape<T>(work: (shape: TableShape) => Promise<T>): Promise<T>
  /** Whether the table keeps activity ids, so that writes can be announced and read back by id. */
  readonly keepsIds: boolean
  /** The batch writer, handing `announce` the ids each write stored, after it committed, when there is one. */
  sink(announce: ((ids: readonly string[]) => void) | undefined): Sink
  migrate(): Promise<void>
  identify(link: IdentityLink): Promise<IdentifyResult>
  deleteActivities(subject: DeletionSubject): Promise<DeletionResult>
  /**
   * Deletes the activities older than `maxAgeMs` (by the earlier of `timestamp` and `receivedAt`)
   * through `connection`, in batches, stopping early when `signal` aborts; returns how many went.
   */
  expire(connection: PostgresConnection, maxAgeMs: number, signal?: AbortSignal): Promise<number>
}

