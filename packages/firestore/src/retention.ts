import type { ExpiryResult } from '@usertracking/core'
import type { FirestoreAdapter, StoredDocument } from './adapter'
import { EXPIRE_AT } from './document'
import { LINKED_AT, LINKED_USER } from './identity'
import type { Layout } from './layout'
import { tombstoneCollection } from './tombstones'
import type { OrderField, QueryPlan, QueryScope } from './query-plan'

/** Documents read, and deleted in one commit, at a time (Firestore's limit for one commit). */
const BATCH = 500
/**
 * How long a lease lets one process expire a store's data, in ms; renewed once half of it has
 * passed, so a process that dies mid-run holds the others off at most this long.
 */
export const LEASE_MS = 600_000
/** The lease document's id in the top collection: owner ids starting with `%` are `%u…`, `%a…` or `%-`, never this. */
export const LEASE_ID = '%retention'

/** What one run needs besides the adapter and the layout. */
export interface FirestoreExpirySettings {
  maxAgeMs: number
  /** The store's clock, in Unix ms (the lease and the cutoff). */
  now: () => number
  /** This store's name in the lease, so that it renews its own and nobody else's. */
  holder: string
}

function millis(value: unknown): number | undefined {
  return typeof (value as { toMillis?: unknown } | undefined)?.toMillis === 'function' ? (value as { toMillis(): number }).toMillis() : undefined
}

/**
 * Takes (or renews) the lease on `path` for `holder`, in a transaction: granted when there is none,
 * when it ran out, or when it is already `holder`'s.
 */
async function takeLease(adapter: FirestoreAdapter, path: string, holder: string, nowMs: number): Promise<boolean> {
  const decided = await adapter.transact(path, (data) => {
    const until = millis(data?.leaseUntil)
    if (data !== undefined && data.holder !== holder && until !== undefined && until > nowMs) return undefined
    return { holder, leaseUntil: new Date(nowMs + LEASE_MS) }
  })
  return decided !== undefined
}

/**
 * Every document of `scope` whose time `field` is before `beforeMs`, oldest first, in pages of
 * {@link BATCH}; `keep` says which of them are this store's (a collection group may hold others).
 */
async function* older(adapter: FirestoreAdapter, scope: QueryScope, field: OrderField, beforeMs: number, keep: (path: string) => boolean) {
  const plan: QueryPlan = { scope, orderBy: field, direction: 'asc', range: { upper: { value: beforeMs, inclusive: false } }, exact: true }
  let after: QueryPlan['startAfter']
  for (;;) {
    const page: StoredDocument[] = await adapter.run(after ? { ...plan, startAfter: after } : plan, BATCH)
    const ours = page.filter((document) => keep(document.path))
    if (ours.length > 0) yield ours
    if (page.length < BATCH) return
    const last = page[page.length - 1]!
    after = { value: millis(last.data[field]) ?? beforeMs, path: last.path }
  }
}

/**
 * One run of retention over a Firestore store, under a lease (a transaction on the document
 * `{collection}/%retention`), so one process at a time runs it; a call that finds the lease held
 * answers `{ deleted: 0, skipped: true }`. It deletes the activities whose `timestamp` or
 * `receivedAt` is before the cutoff (collection group queries, only documents under this store's
 * collection), removes identity links older than the cutoff from the owner documents, deletes
 * tombstones past their `expireAt` from the tombstone collection, and gives the lease back. Stops
 * between two commits when `signal` aborts, or when the lease was lost (it ran out while this process stalled, and another took it).
 */
export async function expireFirestore(
  adapter: FirestoreAdapter,
  layout: Layout,
  settings: FirestoreExpirySettings,
  signal?: AbortSignal,
): Promise<ExpiryResult> {
  const { holder, now } = settings
  const leasePath = `${layout.collection}/${LEASE_ID}`
  let leasedAt = now()
  if (!(await takeLease(adapter, leasePath, holder, leasedAt))) return { deleted: 0, skipped: true }
  /** Whether the run may go on: not stopped, and still holding the lease (renewed when half of it has passed). */
  const mayGoOn = async () => {
    if (signal?.aborted) return false
    const at = now()
    if (at - leasedAt < LEASE_MS / 2) return true
    leasedAt = at
    return takeLease(adapter, leasePath, holder, at)
  }
  const ours = (path: string) => path.startsWith(`${layout.collection}/`) && path.split('/').at(-2) === layout.subcollection
  const owners = () => true
  const cutoff = now() - settings.maxAgeMs
  let deleted = 0
  try {
    for (const field of ['timestamp', 'receivedAt'] as const) {
      for await (const documents of older(adapter, { group: layout.subcollection }, field, cutoff, ours)) {
        if (!(await mayGoOn())) return { deleted }
        await adapter.commit(documents.map((document) => ({ path: document.path, data: null })))
        deleted += documents.length
      }
    }
    // A visitor's owner document keeps a link (linkedUserId, linkedAt), removed once it is old.
    for await (const documents of older(adapter, { collection: layout.collection }, LINKED_AT, cutoff, owners)) {
      if (!(await mayGoOn())) return { deleted }
      await adapter.commit(
        documents.map((document) => {
          const rest = Object.fromEntries(Object.entries(document.data).filter(([key]) => key !== LINKED_USER && key !== LINKED_AT))
          return { path: document.path, data: Object.keys(rest).length === 0 ? null : rest }
        }),
      )
    }
    for await (const documents of older(adapter, { collection: tombstoneCollection(layout) }, EXPIRE_AT, now(), owners)) {
      if (!(await mayGoOn())) return { deleted }
      await adapter.commit(documents.map((document) => ({ path: document.path, data: null })))
    }
    return { deleted }
  } finally {
    // Given back so the next run, anywhere, need not wait for it to run out; a failure here only delays that.
    await adapter.transact(leasePath, (data) => (data?.holder === holder ? null : undefined)).catch(() => undefined)
  }
}
