import type { FirestoreAdapter } from './adapter'
import { adminAdapter } from './admin-adapter'
import { webAdapter } from './web-adapter'

function isWebFirestore(db: unknown): boolean {
  return (db as { type?: unknown }).type === 'firestore'
}

function isAdminFirestore(db: unknown): boolean {
  const candidate = db as Record<string, unknown>
  return ['collection', 'collectionGroup', 'batch', 'getAll'].every((method) => typeof candidate[method] === 'function')
}

/**
 * The adapter for a `db`, told apart by shape: a web SDK `Firestore` says `type: 'firestore'`, a
 * firebase-admin one has the methods the admin adapter calls. Throws a `TypeError` naming the option.
 */
export function selectAdapter(db: unknown): FirestoreAdapter {
  if (typeof db === 'object' && db !== null) {
    if (isWebFirestore(db)) return webAdapter(db)
    if (isAdminFirestore(db)) return adminAdapter(db)
    if ((db as { type?: unknown }).type === 'firestore-lite') {
      throw new TypeError('[usertracking] [firestore] options.db is a firebase/firestore/lite instance, which has no listeners; use getFirestore() from firebase/firestore.')
    }
  }
  throw new TypeError(
    '[usertracking] [firestore] options.db must be a Firestore from firebase-admin (getFirestore() of firebase-admin/firestore) or from the web SDK (getFirestore() of firebase/firestore).',
  )
}

