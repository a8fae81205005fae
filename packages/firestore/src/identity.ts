import { checkDeletionSubject, checkIdentityLink, type Activity, type DeletionResult, type DeletionSubject, type IdentifyResult, type IdentityLink, type RejectedActivity } from '@usertracking/core'
import type { FirestoreAdapter } from './adapter'
import { EXPIRE_AT, fromDocument, STORED_AT, toDocument } from './document'
import { documentPath, ownerId, userCollectionPath, type Layout } from './layout'
import { planQueries, type QueryPlan } from './query-plan'
import { DELETED_AT, tombstonePath, tombstonePathOfOwner } from './tombstones'

/**
 * What `identify` leaves behind lives in the owner documents, the parents of each owner's
 * activities (`user-activities/{owner}`): an anonymous visitor's owner document holds the user it
 * was linked to. A deletion removes those links and leaves a tombstone, under a hash, in the
 * tombstone collection (see `tombstones.ts`).
 */
export const LINKED_USER = 'linkedUserId'
export const LINKED_AT = 'linkedAt'
/** Writes per commit when moving (a set and a delete each) or deleting activities. */
const MOVE_BATCH = 250
const DELETE_BATCH = 500


function ownerPath(layout: Layout, owner: { userId?: string; anonymousId?: string }): string {
  return `${layout.collection}/${ownerId(owner)}`
}

function millis(value: unknown): number | undefined {
  return typeof (value as { toMillis?: unknown } | undefined)?.toMillis === 'function' ? (value as { toMillis(): number }).toMillis() : undefined
}

/** One collection's activities, oldest first: what a move or a deletion walks through. */
function collectionPlan(collection: string): QueryPlan {
  return { scope: { collection }, orderBy: 'timestamp', direction: 'asc', exact: true }
}

/** A batch after {@link screenBatch}: what to store, and what a deletion refuses. */
export interface ScreenedBatch {
  batch: Activity[]
  rejected: RejectedActivity[]
}

/**
 * Applies links and tombstones to a batch about to be written, with one read of the documents it
 * touches (the tombstone of each person, the owner document of each visitor): activities of a
 * deleted person tracked before the deletion are refused, and an anonymous visitor's activities
 * without a user get the user they were linked to (a copy).
 */
export async function screenBatch(
  adapter: FirestoreAdapter,
  layout: Layout,
  batch: readonly Activity[],
  nowMs: number,
  tombstoneMs: number,
): Promise<ScreenedBatch> {
  /** Owner key (`u` or `a` + the id) → the tombstone's path. */
  const tombstones = new Map<string, Promise<string>>()
  const visitorOwners = new Set<string>()
  for (const activity of batch) {
    if (activity.userId !== undefined && !tombstones.has(`u${activity.userId}`)) {
      tombstones.set(`u${activity.userId}`, tombstonePath(layout, { userId: activity.userId }))
    }
    if (activity.anonymousId !== undefined) {
      visitorOwners.add(ownerPath(layout, { anonymousId: activity.anonymousId }))
      if (!tombstones.has(`a${activity.anonymousId}`)) tombstones.set(`a${activity.anonymousId}`, tombstonePath(layout, { anonymousId: activity.anonymousId }))
    }
  }
  if (tombstones.size === 0) return { batch: [...batch], rejected: [] }
  const tombstonePaths = await Promise.all(tombstones.values())
  const list = [...new Set([...tombstonePaths, ...visitorOwners])]
  const found = await adapter.read(list)
  const documents = new Map(list.map((path, index) => [path, found[index]]))
  const tombstoneOf = new Map([...tombstones.keys()].map((key, index) => [key, tombstonePaths[index]!]))
  const deletedAt = (key: string): number => {
    const at = millis(documents.get(tombstoneOf.get(key)!)?.[DELETED_AT])
    return at !== undefined && nowMs - at <= tombstoneMs ? at : -Infinity
  }
  const screened: Activity[] = []
  const rejected: RejectedActivity[] = []
  for (const activity of batch) {
    const deleted = Math.max(
      activity.userId === undefined ? -Infinity : deletedAt(`u${activity.userId}`),
      activity.anonymousId === undefined ? -Infinity : deletedAt(`a${activity.anonymousId}`),
    )
    if (Date.parse(activity.timestamp) <= deleted) {
      rejected.push({ id: activity.id, error: 'The person was deleted after this activity was tracked.' })
      continue
    }
    const linked =
      activity.userId === undefined && activity.anonymousId !== undefined
        ? documents.get(ownerPath(layout, { anonymousId: activity.anonymousId }))?.[LINKED_USER]
        : undefined
    screened.push(typeof linked === 'string' ? { ...activity, userId: linked } : activity)
  }
  return { batch: screened, rejected }
}

/**
 * Links an anonymous id to a user: remembered in the visitor's owner document (so later writes
 * under that anonymous id go to the user), and the activities stored under the visitor moved to
 * the user's collection with `userId` set, {@link MOVE_BATCH} to a commit.
 */
export async function linkIdentity(adapter: FirestoreAdapter, layout: Layout, link: IdentityLink, nowMs: number): Promise<IdentifyResult> {
  const { userId, anonymousId } = checkIdentityLink(link, 'firestore')
  const visitor = ownerPath(layout, { anonymousId })
  const [existing] = await adapter.read([visitor])
  // A device shared by two people links to whoever signed in last; moved activities keep their user.
  await adapter.commit([{ path: visitor, data: { ...existing, [LINKED_USER]: userId, [LINKED_AT]: new Date(nowMs) } }])
  const plan = collectionPlan(`${visitor}/${layout.subcollection}`)
  let linked = 0
  for (;;) {
    const documents = await adapter.run(plan, MOVE_BATCH)
    if (documents.length === 0) break
    await adapter.commit(
      documents.flatMap((document) => {
        const activity = { ...fromDocument(document.data), userId }
        return [
          // Keeps its write time (a move is not news to live listeners) and its expiry.
          { path: documentPath(layout, activity), data: toDocument(activity, document.data[STORED_AT] ?? null, document.data[EXPIRE_AT]) },
          { path: document.path, data: null },
        ]
      }),
    )
    linked += documents.length
    if (documents.length < MOVE_BATCH) break
  }
  return { linked }
}

async function deleteAll(adapter: FirestoreAdapter, plan: QueryPlan): Promise<number> {
  let deleted = 0
  for (;;) {
    const documents = await adapter.run(plan, DELETE_BATCH)
    if (documents.length > 0) await adapter.commit(documents.map((document) => ({ path: document.path, data: null })))
    deleted += documents.length
    if (documents.length < DELETE_BATCH) return deleted
  }
}

/**
 * Deletes one person: first the tombstones (so a delivery racing the deletion is refused), with
 * the identity links removed in the same commits; then their activities, {@link DELETE_BATCH} to
 * a commit. A user's are those in their collection and under every anonymous id linked to them; a
 * visitor's are every activity with their `anonymousId`.
 */
export async function deleteSubject(
  adapter: FirestoreAdapter,
  layout: Layout,
  subject: DeletionSubject,
  nowMs: number,
  tombstoneMs: number,
): Promise<DeletionResult> {
  const { userId, anonymousId } = checkDeletionSubject(subject, 'firestore')
  const byUser = userId !== undefined
  const byVisitor = !byUser
  const tombstone = { [DELETED_AT]: new Date(nowMs), [EXPIRE_AT]: new Date(nowMs + tombstoneMs) }
  if (byVisitor) {
    const visitor = ownerPath(layout, { anonymousId: anonymousId as string })
    await adapter.commit([
      { path: await tombstonePathOfOwner(layout, visitor), data: tombstone },
      { path: visitor, data: null },
    ])
    const [plan] = planQueries(layout, { anonymousId: anonymousId as string }, 'timestamp', 'asc')
    return { deleted: await deleteAll(adapter, plan!) }
  }
  const visitors = await adapter.find(layout.collection, LINKED_USER, userId as string)
  const visitorWrites = await Promise.all(
    visitors.map(async (visitor) => [
      { path: await tombstonePathOfOwner(layout, visitor), data: tombstone },
      { path: visitor, data: null },
    ]),
  )
  const writes = [{ path: await tombstonePath(layout, { userId: userId as string }), data: tombstone }, ...visitorWrites.flat()]
  for (let start = 0; start < writes.length; start += DELETE_BATCH) {
    await adapter.commit(writes.slice(start, start + DELETE_BATCH))
  }
  let deleted = await deleteAll(adapter, collectionPlan(userCollectionPath(layout, userId as string)))
  for (const visitor of visitors) deleted += await deleteAll(adapter, collectionPlan(`${visitor}/${layout.subcollection}`))
  return { deleted }
}
