import type { CollectionReference, DocumentReference, Firestore, Query } from 'firebase-admin/firestore'
import type { DocumentWrite, FirestoreAdapter, NewDocument, StoredDocument } from './adapter'
import { classifyError } from './errors'
import { STORED_AT, toDocument } from './document'
import { fieldValue, type QueryPlan, type QueryScope } from './query-plan'

/** How often a commit that met stored documents is retried without them (each try reads them first). */
const EXISTING_RETRIES = 3

function scopeQuery(db: Firestore, scope: QueryScope): Query | CollectionReference {
  return 'collection' in scope ? db.collection(scope.collection) : db.collectionGroup(scope.group)
}

function planQuery(db: Firestore, plan: QueryPlan): Query {
  let query: Query = scopeQuery(db, plan.scope)
  const { equality, range, orderBy, direction } = plan
  if (equality) {
    query = equality.values.length === 1 ? query.where(equality.field, '==', equality.values[0]) : query.where(equality.field, 'in', equality.values)
  }
  if (plan.nullsOnly) {
    query = query.where(orderBy, '==', null).orderBy('__name__', direction)
    return plan.startAfter ? query.startAfter(db.doc(plan.startAfter.path)) : query
  }
  if (range?.lower) query = query.where(orderBy, range.lower.inclusive ? '>=' : '>', fieldValue(orderBy, range.lower.value))
  if (range?.upper) query = query.where(orderBy, range.upper.inclusive ? '<=' : '<', fieldValue(orderBy, range.upper.value))
  query = query.orderBy(orderBy, direction).orderBy('__name__', direction)
  const after = plan.startAfter
  return after ? query.startAfter(after.value === null ? null : fieldValue(orderBy, after.value), db.doc(after.path)) : query
}

/** The adapter over firebase-admin / `@google-cloud/firestore`. */
export function adminAdapter(database: unknown): FirestoreAdapter {
  const db = database as Firestore
  return {
    sdk: 'firebase-admin',

    // A batch of creates is atomic and fails whole with ALREADY_EXISTS when one document is stored
    // (a retried batch): read which are, and commit the others. Reads are paid only on retries.
    async createMissing(documents: readonly NewDocument[], nowMs: number): Promise<void> {
      let pending = documents
      for (let attempt = 0; pending.length > 0; attempt++) {
        const batch = db.batch()
        for (const document of pending) {
          const expireAt = document.expireAtMs === undefined ? undefined : new Date(document.expireAtMs)
          batch.create(db.doc(document.path), toDocument(document.activity, new Date(nowMs), expireAt))
        }
        try {
          await batch.commit()
          return
        } catch (error) {
          if (classifyError(error) !== 'exists' || attempt >= EXISTING_RETRIES) throw error
        }
        const refs: DocumentReference[] = pending.map((document) => db.doc(document.path))
        const snapshots = await db.getAll(...refs)
        pending = pending.filter((_, index) => !snapshots[index]!.exists)
      }
    },

    async commit(writes: readonly DocumentWrite[]): Promise<void> {
      const batch = db.batch()
      for (const write of writes) {
        if (write.data === null) batch.delete(db.doc(write.path))
        else batch.set(db.doc(write.path), write.data)
      }
      await batch.commit()
    },

    async read(paths: readonly string[]): Promise<(Record<string, unknown> | undefined)[]> {
      if (paths.length === 0) return []
      const snapshots = await db.getAll(...paths.map((path) => db.doc(path)))
      return snapshots.map((snapshot) => snapshot.data())
    },

    async find(collectionPath: string, field: string, value: string): Promise<string[]> {
      const snapshot = await db.collection(collectionPath).where(field, '==', value).get()
      return snapshot.docs.map((document) => document.ref.path)
    },

    async run(plan: QueryPlan, limit: number): Promise<StoredDocument[]> {
      const snapshot = await planQuery(db, plan).limit(limit).get()
      return snapshot.docs.map((document) => ({ path: document.ref.path, data: document.data() }))
    },

    async count(plan: QueryPlan): Promise<number> {
      const snapshot = await planQuery(db, { ...plan, startAfter: undefined }).count().get()
      return snapshot.data().count
    },

    transact(path, change) {
      const ref = db.doc(path)
      return db.runTransaction(async (transaction) => {
        const decided = change((await transaction.get(ref)).data())
        if (decided === null) transaction.delete(ref)
        else if (decided !== undefined) transaction.set(ref, decided)
        return decided
      })
    },

    listen(scope, sinceMs, onAdded, onError): () => void {
      return scopeQuery(db, scope)
        .where(STORED_AT, '>=', new Date(sinceMs))
        .onSnapshot((snapshot) => {
          const added = snapshot.docChanges().filter((change) => change.type === 'added')
          onAdded(added.map(({ doc }) => ({ path: doc.ref.path, data: doc.data() })))
        }, onError)
    },
  }
}
