import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Activity } from '@usertracking/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminDb, closeClients, emulatorHost, loadRules, uniqueProjectId, webDb } from '../test/emulator'
import { FirestoreStoreError, firestoreStore } from './index'

const SHIPPED_RULES = readFileSync(new URL('../firestore.rules', import.meta.url), 'utf8')
const CLIENT_WRITES_RULES = SHIPPED_RULES.replace(/function clientWrites\(\) \{\s*return false;/, 'function clientWrites() {\n      return true;')
const signal = new AbortController().signal

afterAll(closeClients)

function activity(userId: string, overrides: Partial<Activity> = {}): Activity {
  return { id: crypto.randomUUID(), activityType: 'resume_generation', timestamp: new Date().toISOString(), userId, tokenUsage: { total: 1420 }, ...overrides }
}

function rejectedIds(result: Awaited<ReturnType<ReturnType<typeof firestoreStore>['sink']['write']>>): string[] {
  return result.type === 'success' ? (result.rejected ?? []).map((entry) => entry.id).sort() : []
}

describe.runIf(emulatorHost)('firestore.rules on the emulator, through the web SDK with emulator auth tokens', () => {
  it('is the file that turns client writes on by one edit', () => {
    expect(CLIENT_WRITES_RULES).not.toBe(SHIPPED_RULES)
  })

  describe('as shipped (ingest through the server)', () => {
    const projectId = uniqueProjectId('rules')
    let server: ReturnType<typeof firestoreStore>
    const alice = activity('alice')
    const bob = activity('bob')

    beforeAll(async () => {
      await loadRules(projectId, SHIPPED_RULES)
      // The server writes with firebase-admin, which the rules do not bind.
      server = firestoreStore({ db: adminDb(projectId) })
      expect(await server.sink.write([alice, bob], { signal })).toEqual({ type: 'success' })
    })

    it('lets a signed-in user read their own activities', async () => {
      const store = firestoreStore({ db: webDb(projectId, { uid: 'alice' }) })
      expect((await store.list({ userId: 'alice' })).items.map((row) => row.id)).toEqual([alice.id])
      expect((await store.stats({ userId: 'alice' })).total).toBe(1)
    })

    it("denies another user's activities and an anonymous reader", async () => {
      const aliceStore = firestoreStore({ db: webDb(projectId, { uid: 'alice' }) })
      await expect(aliceStore.list({ userId: 'bob' })).rejects.toMatchObject({ code: 'permission-denied' })
      // Across users is a collection group query: only admins may run it.
      await expect(aliceStore.list()).rejects.toMatchObject({ code: 'permission-denied' })
      const anonymous = firestoreStore({ db: webDb(projectId, 'anonymous') })
      await expect(anonymous.list({ userId: 'alice' })).rejects.toMatchObject({ code: 'permission-denied' })
    })

    it('lets a user with the admin claim read everyone', async () => {
      const store = firestoreStore({ db: webDb(projectId, { uid: 'root', admin: true }) })
      expect((await store.list()).items.map((row) => row.id).sort()).toEqual([alice.id, bob.id].sort())
    })

    it("pushes a user's new activity, written by another client, to that user's live listener", { timeout: 120_000 }, async () => {
      const store = firestoreStore({ db: webDb(projectId, { uid: 'alice' }) })
      const received: Activity[] = []
      const errors: unknown[] = []
      const stop = firestoreStore({ db: webDb(projectId, { uid: 'alice' }), onError: (error) => errors.push(error) }).subscribe(
        { userId: 'alice' },
        (activities) => received.push(...activities),
      )
      const fresh = activity('alice', { description: 'live' })
      await server.sink.write([fresh, activity('bob')], { signal })
      // The emulator now and then fails a web listener with RESOURCE_EXHAUSTED (firebase-tools#8654);
      // the SDK listens again after its backoff (up to a minute), and the activity still arrives.
      // Polled with the listener's errors beside the ids, so a failure shows what the listener said.
      await expect
        .poll(() => ({ ids: received.map((row) => row.id), errors: errors.map(String) }), { timeout: 90_000 })
        .toMatchObject({ ids: expect.arrayContaining([fresh.id]) })
      expect(received.every((row) => row.userId === 'alice')).toBe(true)
      stop()
      expect(errors).toEqual([])
      expect((await store.list({ userId: 'alice', limit: 5 })).items[0]!.id).toBe(fresh.id)
    })

    it("reports a listener the rules refuse through onError, and never throws", async () => {
      const errors: unknown[] = []
      const stop = firestoreStore({ db: webDb(projectId, { uid: 'alice' }), onError: (error) => errors.push(error) }).subscribe({ userId: 'bob' }, () => {})
      await expect.poll(() => errors.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(1)
      expect(errors[0]).toBeInstanceOf(FirestoreStoreError)
      expect(errors[0]).toMatchObject({ code: 'permission-denied', message: expect.stringMatching(/listens again in \d+ ms/) })
      stop()
    })

    it('refuses client writes, each activity rejected as the rules said', async () => {
      const store = firestoreStore({ db: webDb(projectId, { uid: 'alice' }) })
      const rows = [activity('alice'), activity('alice')]
      const result = await store.sink.write(rows, { signal })
      expect(rejectedIds(result)).toEqual(rows.map((row) => row.id).sort())
      expect(result).toMatchObject({ rejected: [{ error: expect.stringMatching(/permission/i) }, { error: expect.stringMatching(/permission/i) }] })
    })
  })

  describe('with clientWrites() turned on', () => {
    const projectId = uniqueProjectId('rules-client')
    beforeAll(() => loadRules(projectId, CLIENT_WRITES_RULES))

    it("stores a user's own valid activities and rejects the others of the same batch one by one", async () => {
      const store = firestoreStore({ db: webDb(projectId, { uid: 'alice' }) })
      const own = [activity('alice', { metadata: { jobTitle: 'Data Engineer' } }), activity('alice', { durationMs: 3200 })]
      const forBob = activity('bob')
      const forgedReceipt = activity('alice', { receivedAt: '2020-01-01T00:00:00.000Z' })
      const anonymous = activity('alice', { userId: undefined, anonymousId: 'visitor' })
      const result = await store.sink.write([own[0]!, forBob, forgedReceipt, own[1]!, anonymous], { signal })
      expect(rejectedIds(result)).toEqual([forBob.id, forgedReceipt.id, anonymous.id].sort())
      const admin = firestoreStore({ db: adminDb(projectId) })
      expect((await admin.list()).items.map((row) => row.id).sort()).toEqual(own.map((row) => row.id).sort())
      // A retry of the same batch is a no-op, not an update the rules would refuse.
      expect(rejectedIds(await store.sink.write(own, { signal }))).toEqual([])
    })

    it('accepts the expireAt a store with retention writes on each activity', async () => {
      const store = firestoreStore({ db: webDb(projectId, { uid: 'alice' }), retention: { maxAgeDays: 30, runInBackground: false } })
      const row = activity('alice', { timestamp: '2026-01-01T00:00:00.000Z' })
      expect(await store.sink.write([row], { signal })).toEqual({ type: 'success' })
      const stored = (await adminDb(projectId).doc(`user-activities/alice/activities/${row.id}`).get()).data()!
      expect(stored.expireAt.toDate().toISOString()).toBe('2026-01-31T00:00:00.000Z')
    })

    it("refuses a deleted user's late activities from their own browser: it reads its own tombstone, nobody else's", async () => {
      await firestoreStore({ db: adminDb(projectId) }).deleteActivities({ userId: 'carol' })
      const tracked = activity('carol', { timestamp: new Date(Date.now() - 60_000).toISOString() })
      const result = await firestoreStore({ db: webDb(projectId, { uid: 'carol' }) }).sink.write([tracked], { signal })
      expect(result).toEqual({ type: 'success', rejected: [{ id: tracked.id, error: expect.stringMatching(/deleted/) }] })
      const tombstone = `user-activities-tombstones/${createHash('sha256').update('carol').digest('hex')}`
      const { doc, getDoc } = await import('firebase/firestore')
      expect((await getDoc(doc(webDb(projectId, { uid: 'carol' }), tombstone))).get('deletedAt')).toBeDefined()
      await expect(getDoc(doc(webDb(projectId, { uid: 'mallory' }), tombstone))).rejects.toMatchObject({ code: 'permission-denied' })
      await expect(getDoc(doc(webDb(projectId, 'anonymous'), tombstone))).rejects.toMatchObject({ code: 'permission-denied' })
    })

    it('refuses an anonymous client', async () => {
      const store = firestoreStore({ db: webDb(projectId, 'anonymous') })
      const row = activity('alice')
      expect(rejectedIds(await store.sink.write([row], { signal }))).toEqual([row.id])
    })
  })

  describe('a live listener the rules refused', () => {
    const projectId = uniqueProjectId('rules-relisten')
    beforeAll(() => loadRules(projectId, SHIPPED_RULES))

    it('listens again with a capped backoff, and pushes what was written while it could not, once the rules let it read', { timeout: 120_000 }, async () => {
      const errors: unknown[] = []
      const received: Activity[] = []
      // No lookback: what the listener pushes is what the re-listens themselves recovered.
      const watcher = firestoreStore({ db: webDb(projectId, { uid: 'support-desk' }), liveLookbackMs: 0, onError: (error) => errors.push(error) })
      const stop = watcher.subscribe({ userId: 'dave' }, (activities) => received.push(...activities))
      await expect.poll(() => errors.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(1)
      const server = firestoreStore({ db: adminDb(projectId) })
      const during = activity('dave', { description: 'written while the rules refused the listener' })
      await server.sink.write([during], { signal })
      const failuresBefore = errors.length
      await expect.poll(() => errors.length, { timeout: 30_000 }).toBeGreaterThan(failuresBefore)
      // The deployer grants the support desk read access to everyone's activities (a real rules change).
      await loadRules(projectId, SHIPPED_RULES.replace('allow read: if signedIn() && request.auth.uid == userId;', 'allow read: if signedIn();'))
      await expect.poll(() => received.map((row) => row.id), { timeout: 90_000 }).toEqual([during.id])
      const late = activity('dave', { description: 'written after the rules changed' })
      await server.sink.write([late], { signal })
      await expect.poll(() => received.map((row) => row.id), { timeout: 30_000 }).toEqual([during.id, late.id])
      stop()
      for (const error of errors) expect(error).toMatchObject({ name: 'FirestoreStoreError', code: 'permission-denied' })
    })
  })
})
