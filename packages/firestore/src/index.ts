/**
 * Firestore as the activity log: an idempotent batch sink for the tracker, a reader (`list`,
 * `stats`, `export`) and a live feed (`subscribe`), over firebase-admin or the web SDK. The
 * package also ships `firestore.rules` and `firestore.indexes.json`.
 *
 * @packageDocumentation
 * @module @usertracking/firestore
 */
export { firestoreStore } from './firestore-store'
export type { FirestoreStore, FirestoreStoreOptions } from './firestore-store'
export type { AdminFirestore, WebFirestore, FirestoreDatabase } from './adapter'
export { FirestoreStoreError } from './errors'
export type { FirestoreCode } from './errors'
