/**
 * Deletion tombstones live in their own collection, `{collection}-tombstones` beside the
 * activities, one document per deleted person whose id is the lowercase hex SHA-256 of their owner
 * id: the user id itself for an ordinary user id, `%a` + the anonymous id for a visitor (see
 * `ownerId`). So the sink can find the tombstone of anyone it is about to write for, and security
 * rules can let a signed-in user read theirs (`hashing.sha256(request.auth.uid)`), while no
 * document names the person once their activities are gone (docs/privacy.md).
 */
import { ownerId, type Layout } from './layout'

/** The tombstone field holding when the person was deleted (a Timestamp); `expireAt` is the other. */
export const DELETED_AT = 'deletedAt'

/** The path of the collection holding a layout's tombstones. */
export function tombstoneCollection(layout: Layout): string {
  return `${layout.collection}-tombstones`
}

const encoder = new TextEncoder()

/** Lowercase hex SHA-256 of `text` (UTF-8), by Web Crypto: Node 20 and browsers have it. */
async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)))
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

/** The path of the tombstone of one owner: a user, or an anonymous visitor. */
export async function tombstonePath(layout: Layout, owner: { userId?: string; anonymousId?: string }): Promise<string> {
  return `${tombstoneCollection(layout)}/${await sha256Hex(ownerId(owner))}`
}

/** The path of the tombstone of the owner whose owner document is at `ownerPath` (`{collection}/{owner id}`). */
export async function tombstonePathOfOwner(layout: Layout, ownerPath: string): Promise<string> {
  return `${tombstoneCollection(layout)}/${await sha256Hex(ownerPath.slice(layout.collection.length + 1))}`
}
