import type { Activity } from '@usertracking/core'
import type { QueryPlan, QueryScope } from './query-plan'

/**
 * A firebase-admin (or `@google-cloud/firestore`) `Firestore`: what `getFirestore()` from
 * `firebase-admin/firestore` returns. Only the shape the store relies on is named here, so this
 * package needs neither SDK installed.
 */
export interface AdminFirestore {
  collection(collectionPath: string): unknown
  collectionGroup(collectionId: string): unknown
  batch(): unknown
  getAll(...documentRefs: never[]): Promise<unknown>
}

/** A web SDK `Firestore`: what `getFirestore()` from `firebase/firestore` (the modular SDK, v9 and later) returns. */
export interface WebFirestore {
  readonly type: 'firestore' | 'firestore-lite'
  readonly app: unknown
}

/** Either SDK's `Firestore`; see {@link AdminFirestore} and {@link WebFirestore}. */
export type FirestoreDatabase = AdminFirestore | WebFirestore

/** A document as the store reads it: its full path and its data. */
export interface StoredDocument {
  path: string
  data: Record<string, unknown>
}

/** A document to create: its full path and the activity it holds. */
export interface NewDocument {
  path: string
  activity: Activity
  /** With `retention`: when it expires, in Unix ms, written as the `expireAt` Timestamp. */
  expireAtMs?: number
}

/** One write of {@link FirestoreAdapter.commit}: replace the document with `data`, or delete it (`null`). */
export interface DocumentWrite {
  path: string
  data: Record<string, unknown> | null
}

/** What the store needs from an SDK; one implementation per SDK. */
export interface FirestoreAdapter {
  /** Names the SDK in errors. */
  readonly sdk: 'firebase-admin' | 'firebase'
  /**
   * Stores, in one atomic commit, the documents that do not exist yet, leaving stored ones as they
   * are (at most 500). `nowMs` stamps `storedAt` (and a missing `receivedAt`) where the SDK has no
   * server clock to use.
   */
  createMissing(documents: readonly NewDocument[], nowMs: number): Promise<void>
  /** Replaces or deletes documents in one atomic commit (at most 500). */
  commit(writes: readonly DocumentWrite[]): Promise<void>
  /** The data of each document (undefined where it does not exist, or the rules keep it from this client). */
  read(paths: readonly string[]): Promise<(Record<string, unknown> | undefined)[]>
  /** Paths of the documents of a collection whose `field` equals `value`. */
  find(collectionPath: string, field: string, value: string): Promise<string[]>
  /** Runs one planned query, at most `limit` documents, in the plan's order. */
  run(plan: QueryPlan, limit: number): Promise<StoredDocument[]>
  /** Counts what a plan selects with an aggregation query (one read per 1000 index entries). */
  count(plan: QueryPlan): Promise<number>
  /**
   * In one transaction (retried by the SDK on contention): reads one document, then writes what
   * `change` returns for its data (`null` deletes it, `undefined` leaves it). Resolves what `change`
   * last returned.
   */
  transact(path: string, change: (data: Record<string, unknown> | undefined) => Record<string, unknown> | null | undefined): Promise<Record<string, unknown> | null | undefined>
  /**
   * Listens to documents stored at or after `sinceMs`: calls `onAdded` at each snapshot with the
   * documents it added (none, when it only says the listener is up), and `onError` once when the
   * listener fails, after which it has ended. Returns the stop function.
   */
  listen(scope: QueryScope, sinceMs: number, onAdded: (documents: StoredDocument[]) => void, onError: (error: unknown) => void): () => void
}
