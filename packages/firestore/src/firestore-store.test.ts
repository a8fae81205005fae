import { createTracker, type Activity } from '@usertracking/core'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { adminDb, clearProject, closeClients, emulatorHost, uniqueProjectId, webDb } from '../test/emulator'
import { firestoreStore, type FirestoreStore } from './index'

afterAll(closeClients)

const signal = new AbortController().signal
let sequence = 0

function activity(overrides: Partial<Activity> = {}): Activity {
  sequence += 1
  return {
    id: crypto.randomUUID(),
    activityType: 'resume_generation',
    timestamp: new Date(Date.UTC(2025, 6, 6, 10, 5) + sequence * 1000).toISOString(),
    userId: 'abc123',
    ...overrides,
  }
}

async function storedIds(store: FirestoreStore): Promise<string[]> {
  const ids: string[] = []
  for await (const row of store.export()) ids.push(row.id)
  return ids.sort()
}

describe.runIf(emulatorHost)('firestoreStore on the emulator', () => {
  let projectId: string
  let admin: ReturnType<typeof adminDb>
  beforeEach(async () => {
    projectId = uniqueProjectId('store')
    admin = adminDb(projectId)
    return () => clearProject(projectId)
  })

  for (const sdk of ['firebase-admin', 'web SDK'] as const) {
    const open = (options: { batchSize?: number } = {}) =>
      firestoreStore({ db: sdk === 'firebase-admin' ? admin : webDb(projectId), ...options })

    describe(sdk, () => {
      it('stores a retried batch once: whole, overlapping, with an id twice in one batch, and keeps the first write', async () => {
        const store = open()
        const batch = Array.from({ length: 30 }, (_, index) => activity({ userId: `u${index % 3}` }))
        expect(await store.sink.write(batch, { signal })).toEqual({ type: 'success' })
        // The tracker resends a batch whose acknowledgement was lost, maybe regrouped with new rows.
        expect(await store.sink.write(batch.map((row) => ({ ...row, description: 'a retry' })), { signal })).toEqual({ type: 'success' })
        const more = Array.from({ length: 10 }, () => activity())
        expect(await store.sink.write([...batch.slice(20), ...more, more[0]!], { signal })).toEqual({ type: 'success' })
        expect(await storedIds(store)).toEqual([...batch, ...more].map((row) => row.id).sort())
        const { items } = await store.list({ limit: 1000 })
        expect(items.filter((row) => row.description === 'a retry')).toEqual([])
      })

      it('writes 1,200 activities of one flush in commits of at most 500', async () => {
        const store = open()
        const tracker = createTracker({ sinks: [store.sink], batchSize: 1200, maxQueueSize: 2000 })
        for (let index = 0; index < 1200; index++) {
          tracker.track({ userId: `user-${index % 7}`, activityType: 'job_match', tokenUsage: index })
        }
        await tracker.flush()
        expect(tracker.stats()).toMatchObject({ sent: 1200, failed: 0, dropped: 0 })
        await tracker.shutdown()
        // Every document of one commit shares its commit time, so the create times tell the commits apart.
        const snapshot = await admin.collectionGroup('activities').get()
        expect(snapshot.size).toBe(1200)
        const perCommit = new Map<string, number>()
        for (const document of snapshot.docs) {
          const commit = document.createTime.toDate().toISOString() + document.createTime.nanoseconds
          perCommit.set(commit, (perCommit.get(commit) ?? 0) + 1)
        }
        expect(perCommit.size).toBeGreaterThanOrEqual(3)
        expect(Math.max(...perCommit.values())).toBeLessThanOrEqual(500)
      })

      it('rejects only the documents Firestore refuses, and stores the rest of their commit', async () => {
        const store = open()
        const good = Array.from({ length: 12 }, () => activity())
        const hugeKey = activity({ metadata: { ['k'.repeat(1600)]: 1 } })
        const tooLate = activity({ timestamp: '+010000-01-01T00:00:00.000Z' })
        const badId = activity({ id: 'a/b' })
        const result = await store.sink.write([...good.slice(0, 5), hugeKey, ...good.slice(5, 9), tooLate, badId, ...good.slice(9)], { signal })
        expect(result.type).toBe('success')
        const rejected = result.type === 'success' ? (result.rejected ?? []) : []
        expect(Object.fromEntries(rejected.map((entry) => [entry.id, entry.error]))).toEqual({
          [hugeKey.id]: expect.stringMatching(/invalid|1500|bytes|long/i),
          [tooLate.id]: expect.stringMatching(/years 1 to 9999/),
          [badId.id]: expect.stringMatching(/document id/),
        })
        expect(await storedIds(store)).toEqual(good.map((row) => row.id).sort())
      })

      it('lays activities out per user, with Timestamps and maps, and reads them back as written', async () => {
        const store = open()
        const seed = activity({
          userId: 'abc123',
          description: 'Tailored resume for Amazon job',
          durationMs: 3200,
          tokenUsage: { total: 1420 },
          metadata: { jobTitle: 'Data Engineer', resumeLength: '2 pages', '': 'empty key', __name__: 'reserved', grid: [[1, 2], [3]] },
        })
        const visitor = activity({ userId: undefined, anonymousId: 'visitor-1' })
        const slashed = activity({ userId: 'team/alice' })
        expect(await store.sink.write([seed, visitor, slashed], { signal })).toEqual({ type: 'success' })
        const document = await admin.doc(`user-activities/abc123/activities/${seed.id}`).get()
        expect(document.get('timestamp').toDate().toISOString()).toBe(seed.timestamp)
        expect(document.get('receivedAt').toDate()).toBeInstanceOf(Date)
        expect(document.get('metadata.jobTitle')).toBe('Data Engineer')
        expect(document.get('totalTokens')).toBe(1420)
        expect((await admin.doc(`user-activities/%avisitor-1/activities/${visitor.id}`).get()).exists).toBe(true)
        expect((await admin.doc(`user-activities/%uteam%2Falice/activities/${slashed.id}`).get()).exists).toBe(true)
        const { items } = await store.list({ userId: 'abc123' })
        expect(items.map(({ receivedAt: _receivedAt, ...row }) => row)).toEqual([seed])
        expect((await store.list({ userId: 'team/alice' })).items.map((row) => row.id)).toEqual([slashed.id])
      })

      it('pages through one user and through everyone with a cursor, and refuses another user’s cursor', async () => {
        const store = open()
        const rows = Array.from({ length: 25 }, (_, index) => activity({ userId: index % 2 ? 'alice' : 'bob', tokenUsage: { total: index % 4 ? index : 0 } }))
        await store.sink.write(rows, { signal })
        const first = await store.list({ userId: 'alice', sort: 'tokens', order: 'asc', limit: 5 })
        const second = await store.list({ userId: 'alice', sort: 'tokens', order: 'asc', limit: 5, cursor: first.nextCursor })
        const expected = rows.filter((row) => row.userId === 'alice').sort((a, b) => a.tokenUsage!.total - b.tokenUsage!.total)
        expect([...first.items, ...second.items].map((row) => row.tokenUsage!.total)).toEqual(expected.slice(0, 10).map((row) => row.tokenUsage!.total))
        await expect(store.list({ userId: 'bob', sort: 'tokens', order: 'asc', limit: 5, cursor: first.nextCursor })).rejects.toBeInstanceOf(RangeError)
        const everyone = await store.list({ limit: 10, includeTotal: true })
        expect(everyone.total).toBe(25)
        const rest = await store.list({ limit: 100, cursor: everyone.nextCursor })
        expect(rest.items).toHaveLength(15)
      })
    })
  }

  it('answers a commit that cannot reach Firestore as retryable once the tracker gives up on it', async () => {
    const { initializeApp } = await import('firebase-admin/app')
    const { getFirestore } = await import('firebase-admin/firestore')
    const unreachable = getFirestore(initializeApp({ projectId }, `unreachable-${projectId}`))
    // A port nothing listens on: every attempt is refused, as in an outage.
    unreachable.settings({ host: '127.0.0.1:1', ssl: false })
    const store = firestoreStore({ db: unreachable })
    const controller = new AbortController()
    const pending = store.sink.write([activity()], { signal: controller.signal })
    controller.abort(new Error('the tracker’s write timeout'))
    expect(await pending).toMatchObject({ type: 'retryable' })
    // Not terminated: firebase-admin rejects its in-flight request unhandled when terminated
    // mid-retry; its retries end by themselves when the test process does.
  })

  it('refuses options it cannot use, naming the field', () => {
    expect(() => firestoreStore({ db: {} as never })).toThrow(/options\.db must be a Firestore/)
    expect(() => firestoreStore({ db: admin, collection: 'a/b' })).toThrow(/options\.collection/)
    expect(() => firestoreStore({ db: admin, subcollection: '__x__' })).toThrow(/options\.subcollection/)
    expect(() => firestoreStore({ db: admin, batchSize: 501 })).toThrow(/options\.batchSize must be an integer from 1 to 500/)
  })
})
