import type { DeletionSubject, IdentityLink } from './store'

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0
}

/**
 * Checks what a store's `identify` received, for every store to refuse the same way.
 *
 * @param link - the argument as given (callers in JavaScript may pass anything).
 * @param store - the store's name, for the message: `postgres`, `firestore`.
 * @throws TypeError when `userId` or `anonymousId` is not a non-empty string.
 */
export function checkIdentityLink(link: IdentityLink, store: string): IdentityLink {
  const { userId, anonymousId } = (link ?? {}) as { userId?: unknown; anonymousId?: unknown }
  if (!nonEmpty(userId) || !nonEmpty(anonymousId)) throw new TypeError(`[usertracking] [${store}] identify() needs a non-empty userId and anonymousId.`)
  return { userId, anonymousId }
}

/**
 * Checks what a store's `deleteActivities` received: exactly one of a user id or an anonymous id.
 *
 * @param subject - the argument as given (callers in JavaScript may pass anything).
 * @param store - the store's name, for the message: `postgres`, `firestore`.
 * @throws TypeError unless exactly one of `userId` or `anonymousId` is a non-empty string.
 */
export function checkDeletionSubject(subject: DeletionSubject, store: string): DeletionSubject {
  const { userId, anonymousId } = (subject ?? {}) as { userId?: unknown; anonymousId?: unknown }
  if (nonEmpty(userId) && anonymousId === undefined) return { userId }
  if (nonEmpty(anonymousId) && userId === undefined) return { anonymousId }
  throw new TypeError(`[usertracking] [${store}] deleteActivities() needs exactly one of a non-empty userId or anonymousId.`)
}
