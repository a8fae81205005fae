import { invalidQuery } from './errors'

/** Where activities live: `{collection}/{owner}/{subcollection}/{activity id}`. */
export interface Layout {
  /** The top-level collection, one document per owner. */
  collection: string
  /** The collection id under each owner; collection group queries read every collection of this id. */
  subcollection: string
}

// Firestore's limits on a document id: https://firebase.google.com/docs/firestore/quotas#collections_documents_and_fields
const MAX_ID_BYTES = 1500
const encoder = new TextEncoder()

/** Whether Firestore takes `id` as a document id or collection id as it is. */
export function isValidId(id: string): boolean {
  return (
    id.length > 0 &&
    id !== '.' &&
    id !== '..' &&
    !id.includes('/') &&
    !/^__.*__$/s.test(id) &&
    encoder.encode(id).length <= MAX_ID_BYTES
  )
}

function escapeSegment(text: string): string {
  return text.replaceAll('%', '%25').replaceAll('/', '%2F')
}

/**
 * The owner document id of an activity: the `userId` as it is, so that security rules can compare
 * it with `request.auth.uid`. Ids Firestore refuses (a `/`, `.`, `__x__`, empty) or starting with
 * `%` become `%u` + the id with `%` and `/` percent-encoded; anonymous visitors live under `%a` +
 * their `anonymousId`; activities with neither under `%-`. No two owners share a document.
 */
export function ownerId(activity: { userId?: string; anonymousId?: string }): string {
  const { userId, anonymousId } = activity
  if (userId !== undefined) return isValidId(userId) && !userId.startsWith('%') ? userId : `%u${escapeSegment(userId)}`
  if (anonymousId !== undefined) return `%a${escapeSegment(anonymousId)}`
  return '%-'
}

/** The collection holding one user's activities. */
export function userCollectionPath(layout: Layout, userId: string): string {
  return `${layout.collection}/${ownerId({ userId })}/${layout.subcollection}`
}

/** The document path of an activity. */
export function documentPath(layout: Layout, activity: { id: string; userId?: string; anonymousId?: string }): string {
  return `${layout.collection}/${ownerId(activity)}/${layout.subcollection}/${activity.id}`
}

/** Checks the layout options, naming the field at fault. */
export function checkLayout(layout: Layout): Layout {
  const segments = layout.collection.split('/')
  if (typeof layout.collection !== 'string' || segments.length % 2 !== 1 || !segments.every(isValidId)) {
    throw new TypeError(
      `[usertracking] [firestore] options.collection must be a collection path (an odd number of valid segments), not ${JSON.stringify(layout.collection)}.`,
    )
  }
  if (typeof layout.subcollection !== 'string' || !isValidId(layout.subcollection)) {
    throw new TypeError(`[usertracking] [firestore] options.subcollection must be a valid collection id, not ${JSON.stringify(layout.subcollection)}.`)
  }
  return layout
}

/** Whether `path` names a document this layout can hold (in one user's collection, when given). */
export function checkDocumentPath(layout: Layout, path: string, collectionPath: string | undefined): void {
  const segments = path.split('/')
  const parent = segments.slice(0, -1).join('/')
  const fits =
    segments.length % 2 === 0 &&
    segments.every((segment) => segment.length > 0) &&
    segments.at(-2) === layout.subcollection &&
    (collectionPath === undefined ? parent.startsWith(`${layout.collection}/`) : parent === collectionPath)
  if (!fits) throw invalidQuery('The cursor is not one this store issued for this query.')
}
