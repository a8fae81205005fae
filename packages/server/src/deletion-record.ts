import { uuidv7, type Activity, type DeletionSubject } from '@usertracking/core'

/** The activity type of the record each deletion through the personal-data route leaves. */
export const DATA_DELETION_TYPE = 'data_deletion'

/**
 * The `metadata` of a `data_deletion` activity: who asked, how many activities went, and whose
 * they were, as one-way hashes only (the activity's `timestamp` says when). The activity itself
 * has no `userId` or `anonymousId`, so nothing in it names the person, and a later deletion of
 * anyone leaves it alone.
 */
export interface DeletionRecord {
  /** Whether a user id or an anonymous id was deleted. */
  subject: 'user' | 'anonymous'
  /** {@link deletionHash} of the deleted person. */
  subjectHash: string
  /** `self` when the person asked for their own deletion, `admin` when an admin did. */
  requestedBy: 'self' | 'admin'
  /** {@link deletionHash} of the signed-in user who asked (the person themselves, or the admin). */
  requesterHash: string
  /** Activities deleted. */
  deleted: number
}

const encoder = new TextEncoder()

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, '0')).join('')
}

/**
 * The one-way hash a deletion record keeps of a person: `hmac-sha256:<hex>` under `hashKey`, or
 * `sha256:<hex>` without one. To find the record of a person, compute their hash with the same key
 * and look for it among the `data_deletion` activities. Without a key, anyone who can read the
 * records and guess an id (a small number, an email address) can confirm that it was deleted: set
 * `deletionHashKey` when ids can be guessed.
 *
 * @param person - `{ userId }` or `{ anonymousId }`; the two kinds never hash alike.
 * @param hashKey - the secret of `ActivityHandlerOptions.deletionHashKey`.
 */
export async function deletionHash(person: DeletionSubject, hashKey?: string): Promise<string> {
  const text = person.userId !== undefined ? `user:${person.userId}` : `anonymous:${person.anonymousId}`
  if (hashKey === undefined) {
    return `sha256:${hex(await crypto.subtle.digest('SHA-256', encoder.encode(`usertracking:data_deletion:${text}`)))}`
  }
  const key = await crypto.subtle.importKey('raw', encoder.encode(hashKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return `hmac-sha256:${hex(await crypto.subtle.sign('HMAC', key, encoder.encode(text)))}`
}

/**
 * The `data_deletion` activity recording one deletion.
 *
 * @param subject - who was deleted.
 * @param requester - the user id of who asked.
 * @param deleted - how many activities went.
 * @param hashKey - the HMAC key, if the handler has one.
 * @param at - when, in Unix milliseconds.
 */
export async function deletionRecord(subject: DeletionSubject, requester: string, deleted: number, hashKey: string | undefined, at: number): Promise<Activity> {
  const self = subject.userId === requester
  const record: DeletionRecord = {
    subject: subject.userId !== undefined ? 'user' : 'anonymous',
    subjectHash: await deletionHash(subject, hashKey),
    requestedBy: self ? 'self' : 'admin',
    requesterHash: await deletionHash({ userId: requester }, hashKey),
    deleted,
  }
  const timestamp = new Date(at).toISOString()
  return { id: uuidv7(at), activityType: DATA_DELETION_TYPE, timestamp, receivedAt: timestamp, metadata: { ...record } }
}
