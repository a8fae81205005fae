import { createHash } from 'node:crypto'
import type { Activity } from '@usertracking/core'
import type { CollectionReference, Firestore } from 'firebase-admin/firestore'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { adminDb, clearProject, closeClients, emulatorHost, uniqueProjectId, webDb } from '../test/emulator'
import { firestoreStore } from './index'

afterAll(closeClients)

const signal = new AbortController().signal
const DAY = 86_400_000

function activity(overrides: Partial<Activity> = {}): Activity {
  return { id: crypto.randomUUID(), activityType: 'resume_generation', timestamp: new Date(Date.now() - DAY).toISOString(), ...overrides }
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/** Every document of the project (those that only parent a subcollection too): its path and its data as JSON. */
async function everyDocument(db: Firestore): Promise<{ path: string; json: string }[]> {
  const found: { path: string; json: string }[] = []
  const walk = async (collections: CollectionReference[]) => {
    for (const collection of collections) {
      for (const ref of await collection.listDocuments()) {
        const snapshot = await ref.get()
        found.push({ path: ref.path, json: JSON.stringify(snapshot.data() ?? null) })
        await walk(await ref.listCollections())
      }
    }
  }
  await walk(await db.listCollections())
  return found
}

describe.runIf(emulatorHost)('deletion tombstones on the emulator', () => {
  let projectId: string
  beforeEach(() => {
    projectId = uniqueProjectId('tombstones')
    return () => clearProject(projectId)
  })

  for (const sdk of ['firebase-admin', 'web SDK'] as const) {
    it(`keeps no plaintext id of a deleted person, only SHA-256 hashes in their own collection (${sdk})`, async () => {
      const admin = adminDb(projectId)
      const store = firestoreStore({ db: sdk === 'web SDK' ? webDb(projectId) : admin })
      const userId = 'deleted-person-7c1e'
      const anonymousId = 'visitor-of-7c1e'
      await store.sink.write([activity({ userId: undefined, anonymousId }), activity({ userId: 'someone-else' })], { signal })
      await store.identify({ userId, anonymousId })
      await store.sink.write([activity({ userId, anonymousId }), activity({ userId })], { signal })

      expect(await store.deleteActivities({ userId })).toEqual({ deleted: 3 })

      const documents = await everyDocument(admin)
      const leaks = documents.filter(({ path, json }) => [path, json].some((text) => text.includes('7c1e')))
      expect(leaks).toEqual([])
      const tombstones = documents.filter(({ path }) => path.startsWith('user-activities-tombstones/')).map(({ path }) => path)
      expect(tombstones.sort()).toEqual([`user-activities-tombstones/${sha256(userId)}`, `user-activities-tombstones/${sha256(`%a${anonymousId}`)}`].sort())
      const tombstone = (await admin.doc(`user-activities-tombstones/${sha256(userId)}`).get()).data()!
      expect(Object.keys(tombstone).sort()).toEqual(['deletedAt', 'expireAt'])
      expect(tombstone.expireAt.toMillis() - tombstone.deletedAt.toMillis()).toBe(30 * DAY)
      // What someone else did is untouched.
      expect((await store.list({ userId: 'someone-else' })).items).toHaveLength(1)

      // The tombstones still refuse late deliveries of what the person did before the deletion.
      const late = [activity({ userId }), activity({ userId: undefined, anonymousId })]
      const result = await store.sink.write(late, { signal })
      expect(result.type === 'success' ? result.rejected?.map((entry) => entry.id).sort() : result).toEqual(late.map((row) => row.id).sort())
    })
  }

  it('deletes an anonymous visitor under the hash of their owner id, and forgets tombstones past their time', async () => {
    let clock = Date.now()
    const admin = adminDb(projectId)
    const store = firestoreStore({ db: admin, now: () => clock, tombstoneMs: 10 * DAY, retention: { maxAgeDays: 365, runInBackground: false } })
    await store.sink.write([activity({ anonymousId: 'lurker-9d2f' })], { signal })
    expect(await store.deleteActivities({ anonymousId: 'lurker-9d2f' })).toEqual({ deleted: 1 })
    expect((await everyDocument(admin)).filter(({ path, json }) => [path, json].some((text) => text.includes('9d2f')))).toEqual([])
    expect((await admin.doc(`user-activities-tombstones/${sha256('%alurker-9d2f')}`).get()).exists).toBe(true)
    clock += 11 * DAY
    await store.expireActivities()
    expect((await admin.collection('user-activities-tombstones').get()).size).toBe(0)
  })
})
