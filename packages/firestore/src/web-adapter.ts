import type { Firestore, Query, QueryConstraint, QuerySnapshot } from 'firebase/firestore'
import type { DocumentWrite, FirestoreAdapter, NewDocument, StoredDocument } from './adapter'
import { firestoreCode } from './errors'
import { STORED_AT, toDocument } from './document'
import { fieldValue, type QueryPlan, type QueryScope } from './query-plan'

type WebSdk = typeof import('firebase/firestore')

let loading: Promise<WebSdk> | undefined

/**
 * The modular SDK's functions are not reachable from a `Firestore` instance, so they are imported
 * here, once, on first use: from the app's own `firebase` (an optional peer dependency), which
 * bundlers share with the app's imports.
 */
function loadSdk(): Promise<WebSdk> {
  loading ??= import('firebase/firestore')
  return loading
}

function documents(snapshot: QuerySnapshot): StoredDocument[] {
  // A document this client wrote has no server time until the server answers; its estimate reads as a time.
  return snapshot.docs.map((document) => ({ path: document.ref.path, data: document.data({ serverTimestamps: 'estimate' }) }))
}

function scopeQuery(sdk: WebSdk, db: Firestore, scope: QueryScope): Query {
  return 'collection' in scope ? sdk.collection(db, scope.collection) : sdk.collectionGroup(db, scope.group)
}

/**
 * A document's place in `orderBy(documentId())`, as the web SDK wants it in a cursor: its id in a
 * collection query, its path in a collection group query.
 */
function documentKey(plan: QueryPlan, path: string): string {
  return 'collection' in plan.scope ? path.slice(path.lastIndexOf('/') + 1) : path
}

function planQuery(sdk: WebSdk, db: Firestore, plan: QueryPlan, limit?: number): Query {
  const constraints: QueryConstraint[] = []
  const { equality, range, orderBy, direction } = plan
  if (equality) {
    constraints.push(equality.values.length === 1 ? sdk.where(equality.field, '==', equality.values[0]) : sdk.where(equality.field, 'in', equality.values))
  }
  if (plan.nullsOnly) {
    constraints.push(sdk.where(orderBy, '==', null), sdk.orderBy(sdk.documentId(), direction))
    if (plan.startAfter) constraints.push(sdk.startAfter(documentKey(plan, plan.startAfter.path)))
  } else {
    if (range?.lower) constraints.push(sdk.where(orderBy, range.lower.inclusive ? '>=' : '>', fieldValue(orderBy, range.lower.value)))
    if (range?.upper) constraints.push(sdk.where(orderBy, range.upper.inclusive ? '<=' : '<', fieldValue(orderBy, range.upper.value)))
    constraints.push(sdk.orderBy(orderBy, direction), sdk.orderBy(sdk.documentId(), direction))
    const after = plan.startAfter
    if (after) constraints.push(sdk.startAfter(after.value === null ? null : fieldValue(orderBy, after.value), documentKey(plan, after.path)))
  }
  if (limit !== undefined) constraints.push(sdk.limit(limit))
  return sdk.query(scopeQuery(sdk, db, plan.scope), ...constraints)
}

/** The adapter over the web SDK (`firebase/firestore`), in browsers and on Node. */
export function webAdapter(database: unknown): FirestoreAdapter {
  const db = database as Firestore
  return {
    sdk: 'firebase',

    // The web SDK has no create-only write outside a transaction: a transaction reads each
    // document, and its writes then carry the precondition that the document still does not exist.
    // `storedAt` (and a missing `receivedAt`) is the commit time, which rules check (request.time).
    async createMissing(newDocuments: readonly NewDocument[]): Promise<void> {
      const sdk = await loadSdk()
      await sdk.runTransaction(db, async (transaction) => {
        const refs = newDocuments.map((document) => sdk.doc(db, document.path))
        const snapshots = await Promise.all(refs.map((ref) => transaction.get(ref)))
        snapshots.forEach((snapshot, index) => {
          if (snapshot.exists()) return
          const { activity, expireAtMs } = newDocuments[index]!
          transaction.set(refs[index]!, toDocument(activity, sdk.serverTimestamp(), expireAtMs === undefined ? undefined : new Date(expireAtMs)))
        })
      })
    },

    async commit(writes: readonly DocumentWrite[]): Promise<void> {
      const sdk = await loadSdk()
      const batch = sdk.writeBatch(db)
      for (const write of writes) {
        if (write.data === null) batch.delete(sdk.doc(db, write.path))
        else batch.set(sdk.doc(db, write.path), write.data)
      }
      await batch.commit()
    },

    // One read each: the web SDK has no multi-document get outside transactions. A document the
    // rules keep from this client reads as absent; the rules still judge the write.
    async read(paths: readonly string[]): Promise<(Record<string, unknown> | undefined)[]> {
      const sdk = await loadSdk()
      return Promise.all(
        paths.map(async (path) => {
          try {
            return (await sdk.getDoc(sdk.doc(db, path))).data()
          } catch (error) {
            if (firestoreCode(error) === 'permission-denied') return undefined
            throw error
          }
        }),
      )
    },

    async find(collectionPath: string, field: string, value: string): Promise<string[]> {
      const sdk = await loadSdk()
      const snapshot = await sdk.getDocs(sdk.query(sdk.collection(db, collectionPath), sdk.where(field, '==', value)))
      return snapshot.docs.map((document) => document.ref.path)
    },

    async run(plan: QueryPlan, limit: number): Promise<StoredDocument[]> {
      const sdk = await loadSdk()
      return documents(await sdk.getDocs(planQuery(sdk, db, plan, limit)))
    },

    async count(plan: QueryPlan): Promise<number> {
      const sdk = await loadSdk()
      const snapshot = await sdk.getCountFromServer(planQuery(sdk, db, { ...plan, startAfter: undefined }))
      return snapshot.data().count
    },

    async transact(path, change) {
      const sdk = await loadSdk()
      const ref = sdk.doc(db, path)
      return sdk.runTransaction(db, async (transaction) => {
        const decided = change((await transaction.get(ref)).data())
        if (decided === null) transaction.delete(ref)
        else if (decided !== undefined) transaction.set(ref, decided)
        return decided
      })
    },

    listen(scope, sinceMs, onAdded, onError): () => void {
      let stop: (() => void) | undefined
      let stopped = false
      loadSdk().then(
        (sdk) => {
          if (stopped) return
          const query = sdk.query(scopeQuery(sdk, db, scope), sdk.where(STORED_AT, '>=', new Date(sinceMs)))
          stop = sdk.onSnapshot(
            query,
            (snapshot) => {
              const added = snapshot.docChanges().filter((change) => change.type === 'added')
              onAdded(added.map(({ doc }) => ({ path: doc.ref.path, data: doc.data({ serverTimestamps: 'estimate' }) })))
            },
            onError,
          )
        },
        onError,
      )
      return () => {
        stopped = true
        stop?.()
      }
    },
  }
}
