import { checkDeletionSubject, checkIdentityLink, type Activity, type DeletionResult, type DeletionSubject, type IdentifyResult, type IdentityLink, type RejectedActivity } from '@usertracking/core'
import type { FirestoreAdapter } from './adapter'
import { EXPIRE_AT, fromDocument, STORED_AT, toDocument } from './document'
import { documentPath, ownerId, userCollectionPath, type Layout } from './layout'
import { planQueries, type QueryPlan } from './query-plan'

/**
 * What `identify` and `deleteActivities` leave behind lives in the owner documents, the parents of
 * each owner's activities (`user-activities/{owner}`): an anonymous visitor's owner document holds
 * the user it was linked to; a deleted person's holds the time of the deletion (a tombstone), and
 * `expireAt`, for a Firestore TTL policy to remove it once no delivery can still be late.
 */
export const LINKED_USER = 'linkedUserId'
export const LINKED_AT = 'linkedAt'
export const DELETED_AT = 'deletedAt'
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
 * Applies links and tombstones to a batch about to be written, with one read of the owner
 * documents it touches: activities of a deleted person tracked before the deletion are refused,
 * and an anonymous visitor's activities without a user get the user they were linked to (a copy).
 */
export async function screenBatch(
  adapter: FirestoreAdapter,
  layout: Layout,
  batch: readonly Activity[],
  nowMs: number,
  tombstoneMs: number,
): Promise<ScreenedBatch> {
  const paths = new Set<string>()
  for (const activity of batch) {
    if (activity.userId !== undefined) paths.add(ownerPath(layout, { userId: activity.userId }))
    if (activity.anonymousId !== undefined) paths.add(ownerPath(layout, { anonymousId: activity.anonymousId }))
  }
  if (paths.size === 0) return { batch: [...batch], rejected: [] }
  const list = [...paths]
  const found = await adapter.read(list)
  const owners = new Map(list.map((path, index) => [path, found[index]]))
  const deletedAt = (path: string): number => {
    const at = millis(owners.get(path)?.[DELETED_AT])
    return at !== undefined && nowMs - at <= tombstoneMs ? at : -Infinity
  }
  const screened: Activity[] = []
  const rejected: RejectedActivity[] = []
  for (const activity of batch) {
    const userOwner = activity.userId === undefined ? undefined : ownerPath(layout, { userId: activity.userId })
    const visitorOwner = activity.anonymousId === undefined ? undefined : ownerPath(layout, { anonymousId: activity.anonymousId })
    const deleted = Math.max(userOwner ? deletedAt(userOwner) : -Infinity, visitorOwner ? deletedAt(visitorOwner) : -Infinity)
    if (Date.parse(activity.timestamp) <= deleted) {
      rejected.push({ id: activity.id, error: 'The person was deleted after this activity was tracked.' })
      continue
    }
    const linked = userOwner === undefined && visitorOwner !== undefined ? owners.get(visitorOwner)?.[LINKED_USER] : undefined
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
 * Deletes one person: first the tombstones, replacing the identity links (so a delivery racing
 * the deletion is refused); then their activities, {@link DELETE_BATCH} to a commit. A user's are
 * those in their collection and under every anonymous id linked to them; a visitor's are every
 * activity with their `anonymousId`.
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
    await adapter.commit([{ path: ownerPath(layout, { anonymousId: anonymousId as string }), data: tombstone }])
    const [plan] = planQueries(layout, { anonymousId: anonymousId as string }, 'timestamp', 'asc')
    return { deleted: await deleteAll(adapter, plan!) }
  }
  const visitors = await adapter.find(layout.collection, LINKED_USER, userId as string)
  const owners = [ownerPath(layout, { userId: userId as string }), ...visitors]
  for (let start = 0; start < owners.length; start += DELETE_BATCH) {
    await adapter.commit(owners.slice(start, start + DELETE_BATCH).map((path) => ({ path, data: tombstone })))
  }
  let deleted = await deleteAll(adapter, collectionPlan(userCollectionPath(layout, userId as string)))
  for (const visitor of visitors) deleted += await deleteAll(adapter, collectionPlan(`${visitor}/${layout.subcollection}`))
  return { deleted }
}
