import { type Activity } from '@usertracking/core'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { adminDb, clearProject, closeClients, emulatorHost, uniqueProjectId } from '../test/emulator'
import { firestoreStore, type FirestoreStore } from './index'
import { LEASE_ID, LEASE_MS } from './retention'

afterAll(closeClients)

const signal = new AbortController().signal
const DAY = 86_400_000

function activity(overrides: Partial<Activity> = {}): Activity {
  return { id: crypto.randomUUID(), activityType: 'job_match', timestamp: new Date().toISOString(), userId: 'abc123', ...overrides }
}

describe.runIf(emulatorHost)('retention of firestoreStore on the emulator', () => {
  let projectId: string
  let admin: ReturnType<typeof adminDb>
  const stores: FirestoreStore[] = []
  beforeEach(() => {
    projectId = uniqueProjectId('retention')
    admin = adminDb(projectId)
    return async () => {
      for (const store of stores.splice(0)) await store.close()
      await clearProject(projectId)
    }
  })
  const open = (options: Partial<Parameters<typeof firestoreStore>[0]> = {}) => {
    const store = firestoreStore({ db: admin, retention: { maxAgeDays: 30, runInBackground: false }, ...options })
    stores.push(store)
    return store
  }
  const expireAt = async (path: string) => ((await admin.doc(path).get()).data()?.expireAt as { toDate(): Date } | undefined)?.toDate().toISOString()
  const count = async () => (await admin.collectionGroup('activities').count().get()).data().count

  it('writes expireAt (the earlier of timestamp and receivedAt, plus maxAgeDays) for a TTL policy, keeps it through identify, and never reads it back', async () => {
    const now = Date.UTC(2026, 5, 1)
    const store = open({ now: () => now })
    const acted = activity({ userId: undefined, anonymousId: 'visitor', timestamp: '2026-05-20T00:00:00.000Z' })
    const future = activity({ timestamp: '2099-01-01T00:00:00.000Z' })
    const received = activity({ timestamp: '2099-01-01T00:00:00.000Z', receivedAt: '2026-04-01T00:00:00.000Z' })
    await store.sink.write([acted, future, received], { signal })
    expect(await expireAt(`user-activities/%avisitor/activities/${acted.id}`)).toBe('2026-06-19T00:00:00.000Z')
    expect(await expireAt(`user-activities/abc123/activities/${future.id}`)).toBe(new Date(now + 30 * DAY).toISOString())
    expect(await expireAt(`user-activities/abc123/activities/${received.id}`)).toBe('2026-05-01T00:00:00.000Z')
    await store.identify({ userId: 'abc123', anonymousId: 'visitor' })
    expect(await expireAt(`user-activities/abc123/activities/${acted.id}`)).toBe('2026-06-19T00:00:00.000Z')
    for (const item of (await store.list({ userId: 'abc123' })).items) expect(item).not.toHaveProperty('expireAt')
    // A store without retention writes no expireAt.
    const plain = firestoreStore({ db: admin })
    const kept = activity()
    await plain.sink.write([kept], { signal })
    expect(await expireAt(`user-activities/abc123/activities/${kept.id}`)).toBeUndefined()
  })

  it('deletes more than one commit of expired activities, and leaves another collection named activities alone', async () => {
    const store = open()
    const old = Array.from({ length: 1100 }, (_, index) => activity({ userId: `u${index % 4}`, timestamp: new Date(Date.now() - (40 + (index % 9)) * DAY).toISOString() }))
    const young = Array.from({ length: 5 }, () => activity())
    await store.sink.write([...old, ...young], { signal })
    await admin.doc('somebody-else/x/activities/old').set({ timestamp: new Date(Date.now() - 400 * DAY), receivedAt: new Date(Date.now() - 400 * DAY) })
    expect(await store.expireActivities()).toEqual({ deleted: 1100 })
    expect(await count()).toBe(6)
    expect((await admin.doc('somebody-else/x/activities/old').get()).exists).toBe(true)
    const left = (await store.list({ userId: 'abc123', limit: 100 })).items.map((item) => item.id).sort()
    expect(left).toEqual(young.map((item) => item.id).sort())
  })

  it('runs under a lease: skipped while another process holds it, run once it ran out, and given back afterwards', async () => {
    const store = open()
    await store.sink.write([activity({ timestamp: new Date(Date.now() - 40 * DAY).toISOString() })], { signal })
    const lease = admin.doc(`user-activities/${LEASE_ID}`)
    await lease.set({ holder: 'another process', leaseUntil: new Date(Date.now() + LEASE_MS) })
    expect(await store.expireActivities()).toEqual({ deleted: 0, skipped: true })
    expect(await count()).toBe(1)
    await lease.set({ holder: 'another process', leaseUntil: new Date(Date.now() - 1000) })
    expect(await store.expireActivities()).toEqual({ deleted: 1 })
    expect((await lease.get()).exists).toBe(false)
  })

  it('two processes expiring at once together delete each expired activity once', async () => {
    const first = open()
    const second = open()
    await first.sink.write(
      Array.from({ length: 600 }, () => activity({ timestamp: new Date(Date.now() - 40 * DAY).toISOString() })),
      { signal },
    )
    const results = await Promise.all([first.expireActivities(), second.expireActivities()])
    expect(results.reduce((sum, result) => sum + result.deleted, 0) + (await count())).toBe(600)
    // Whichever was skipped, a later run finishes the job.
    await first.expireActivities()
    expect(await count()).toBe(0)
  })

  it('forgets identity links older than maxAgeDays and tombstones past their time', async () => {
    let clock = Date.now()
    const store = open({ now: () => clock, tombstoneMs: 10 * DAY })
    await store.identify({ userId: 'abc123', anonymousId: 'visitor' })
    await store.deleteActivities({ userId: 'gone' })
    clock += 31 * DAY
    expect(await store.expireActivities()).toEqual({ deleted: 0 })
    expect((await admin.doc('user-activities/%avisitor').get()).exists).toBe(false)
    expect((await admin.collection('user-activities-tombstones').get()).size).toBe(0)
    // The visitor is anonymous again: a later activity of theirs stays theirs alone.
    const later = activity({ userId: undefined, anonymousId: 'visitor', timestamp: new Date(clock).toISOString() })
    await store.sink.write([later], { signal })
    expect((await store.list({ anonymousId: 'visitor' })).items.map((item) => item.userId)).toEqual([undefined])
  })

  it('reports a failed run to onError and runs again', async () => {
    const errors: unknown[] = []
    const store = open({ retention: { maxAgeDays: 30, intervalMs: 20 }, onError: (error) => errors.push(error) })
    await admin.doc(`user-activities/${LEASE_ID}`).set({ holder: 'broken', leaseUntil: 'not a time' })
    await store.sink.write([activity({ timestamp: new Date(Date.now() - 40 * DAY).toISOString() })], { signal })
    // A lease document that is not a lease (written by hand) is taken over; the job deletes.
    await expect.poll(() => count(), { timeout: 20_000 }).toBe(0)
    expect(errors).toEqual([])
    await store.close()
  })
})
