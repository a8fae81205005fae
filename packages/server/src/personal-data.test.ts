import { memoryStore, type Activity, type Store } from '@usertracking/core'
import { parse } from 'csv-parse/sync'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { deletionHash } from './deletion-record'
import { createActivityHandler } from './handler'
import { ADMIN, as, startServer, type TestServer } from '../test/test-server'
import { closeStores, storeKinds, type TestStore } from '../test/stores'

// The first test over PGlite starts it, which takes seconds on a loaded machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

let server: TestServer | undefined
let opened: TestStore | undefined
afterAll(closeStores)
afterEach(async () => {
  await server?.close()
  await opened?.close()
  server = undefined
  opened = undefined
})

/** A person whose id is easy to find in any row that still names them. */
const PERSON = 'person-7c1e'
const PERSON_ANON = 'anon-of-person-7c1e'

function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server!.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

function personalData(method: 'GET' | 'DELETE', headers: Record<string, string>, query = ''): Promise<Response> {
  return fetch(`${server!.url}/api/personal-data${query}`, { method, headers })
}

async function everything(): Promise<Activity[]> {
  return ((await (await fetch(`${server!.url}/api/activities?limit=1000`, { headers: ADMIN })).json()) as { items: Activity[] }).items
}

/**
 * The person browses anonymously, signs in (identify), and keeps using the app; someone else uses
 * it too.
 */
async function seedPerson(): Promise<void> {
  expect((await post([{ activityType: 'page_view', anonymousId: PERSON_ANON, context: { page: '/pricing' } }, { activityType: 'click', anonymousId: PERSON_ANON }])).status).toBe(200)
  expect((await fetch(`${server!.url}/api/identify`, { method: 'POST', headers: { 'content-type': 'application/json', ...as(PERSON) }, body: JSON.stringify({ anonymousId: PERSON_ANON }) })).status).toBe(200)
  expect((await post({ activityType: 'resume_generation', tokenUsage: 1420, metadata: { jobTitle: 'Data Engineer' } }, as(PERSON))).status).toBe(200)
  expect((await post({ activityType: 'resume_generation' }, as('someone-else'))).status).toBe(200)
  expect((await post({ activityType: 'page_view', anonymousId: 'another-visitor' })).status).toBe(200)
}

describe.each(storeKinds())('personal data over the $name', (kind) => {
  it('exports a signed-in user their own activities, those from before they signed in included', async () => {
    opened = await kind.open()
    server = await startServer({ store: opened.store })
    await seedPerson()
    const response = await personalData('GET', as(PERSON))
    expect(response.status).toBe(200)
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="personal-data.json"')
    const rows = (await response.json()) as Activity[]
    expect(rows.map((row) => row.activityType).sort()).toEqual(['click', 'page_view', 'resume_generation'])
    expect(rows.every((row) => row.userId === PERSON)).toBe(true)
    const csv = await personalData('GET', as(PERSON), '?format=csv')
    expect(csv.headers.get('content-type')).toContain('text/csv')
    expect(parse(await csv.text(), { columns: true })).toHaveLength(3)
    const ndjson = await (await personalData('GET', as(PERSON), '?format=ndjson')).text()
    expect(ndjson.trim().split('\n')).toHaveLength(3)
  })

  it('deletes a user\'s activities on their own request, leaves no row of them, and records the deletion without naming them', async () => {
    opened = await kind.open()
    server = await startServer({ store: opened.store })
    await seedPerson()
    const response = await personalData('DELETE', as(PERSON))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ deleted: 3 })
    const left = await everything()
    expect(left.map((activity) => activity.activityType).sort()).toEqual(['data_deletion', 'page_view', 'resume_generation'])
    // No activity names the person, in any field, the deletion record included.
    expect(JSON.stringify(left)).not.toContain('person-7c1e')
    const record = left.find((activity) => activity.activityType === 'data_deletion')!
    expect(record.userId).toBeUndefined()
    expect(record.anonymousId).toBeUndefined()
    expect(record.metadata).toEqual({
      subject: 'user',
      subjectHash: await deletionHash({ userId: PERSON }),
      requestedBy: 'self',
      requesterHash: await deletionHash({ userId: PERSON }),
      deleted: 3,
    })
    expect(Date.parse(record.timestamp)).toBeGreaterThan(Date.now() - 60_000)
    // What they would still see of themselves: nothing.
    expect(await (await personalData('GET', as(PERSON))).json()).toEqual([])
    if (opened.tables) {
      const tables = await opened.tables()
      expect(tables.activities.filter((row) => row.includes(PERSON))).toEqual([])
      expect(tables.identities.filter((row) => row.includes(PERSON))).toEqual([])
      // The deletions table holds only the store's tombstones (kind, id, time; no activity content),
      // which refuse late deliveries of the person for `tombstoneMs`; the next test shows them go.
      expect(tables.deletions.map((row) => Object.keys(JSON.parse(row) as object).sort())).toEqual([
        ['deleted_at', 'subject', 'subject_kind'],
        ['deleted_at', 'subject', 'subject_kind'],
      ])
    }
  })

  it('keeps no trace of the person once their tombstones expire', async () => {
    // Tombstones kept for a millisecond: the next deletion of a user purges them.
    opened = await kind.open({ tombstoneMs: 1 })
    server = await startServer({ store: opened.store })
    await seedPerson()
    expect(await (await personalData('DELETE', as(PERSON))).json()).toEqual({ deleted: 3 })
    const deletedAt = Date.now()
    // The clock (the database's is this machine's) has moved past the tombstones' millisecond.
    while (Date.now() - deletedAt < 2) await new Promise((resolve) => setImmediate(resolve))
    expect(await (await personalData('DELETE', as('someone-else'))).json()).toEqual({ deleted: 1 })
    expect(JSON.stringify(await everything())).not.toContain(PERSON)
    if (opened.tables) {
      const tables = await opened.tables()
      for (const [table, rows] of Object.entries(tables)) expect(rows.filter((row) => row.includes(PERSON)), table).toEqual([])
    }
  })

  it('refuses a late delivery of what the person did before the deletion, in that request\'s answer only', async () => {
    opened = await kind.open()
    server = await startServer({ store: opened.store })
    await seedPerson()
    const trackedBefore = new Date(Date.now() - 1000).toISOString()
    await personalData('DELETE', as(PERSON))
    // A queued activity of the person, retried after the deletion, in the same request as a new one.
    const response = await post([
      { activityType: 'queued_before_deletion', timestamp: trackedBefore, anonymousId: PERSON_ANON },
      { activityType: 'fresh', anonymousId: 'new-visitor' },
    ])
    const answer = (await response.json()) as { accepted: number; rejected?: { id: string; error: string }[] }
    expect(response.status).toBe(200)
    expect(answer.accepted).toBe(1)
    expect(answer.rejected).toEqual([{ id: expect.any(String), error: expect.stringContaining('deleted') }])
    expect(JSON.stringify(await everything())).not.toContain(PERSON)
  })

  it('lets an admin export and delete any user, or an anonymous visitor, and records who asked as a hash', async () => {
    opened = await kind.open()
    server = await startServer({ store: opened.store })
    await seedPerson()
    const exported = (await (await personalData('GET', ADMIN, `?userId=${PERSON}`)).json()) as Activity[]
    expect(exported).toHaveLength(3)
    const visitor = (await (await personalData('GET', ADMIN, '?anonymousId=another-visitor')).json()) as Activity[]
    expect(visitor.map((activity) => activity.anonymousId)).toEqual(['another-visitor'])
    expect(await (await personalData('DELETE', ADMIN, '?anonymousId=another-visitor')).json()).toEqual({ deleted: 1 })
    expect(await (await personalData('DELETE', ADMIN, `?user_id=${PERSON}`)).json()).toEqual({ deleted: 3 })
    const records = (await everything()).filter((activity) => activity.activityType === 'data_deletion').map((activity) => activity.metadata)
    expect(records).toEqual(
      expect.arrayContaining([
        { subject: 'anonymous', subjectHash: await deletionHash({ anonymousId: 'another-visitor' }), requestedBy: 'admin', requesterHash: await deletionHash({ userId: 'admin' }), deleted: 1 },
        { subject: 'user', subjectHash: await deletionHash({ userId: PERSON }), requestedBy: 'admin', requesterHash: await deletionHash({ userId: 'admin' }), deleted: 3 },
      ]),
    )
    expect(records).toHaveLength(2)
    expect(JSON.stringify(await everything())).not.toContain('another-visitor')
  })

  it("never lets a user export or delete someone else's activities", async () => {
    opened = await kind.open()
    server = await startServer({ store: opened.store })
    await seedPerson()
    for (const query of ['?userId=someone-else', '?user_id=someone-else', `?anonymousId=${PERSON_ANON}`]) {
      expect((await personalData('GET', as('mallory'), query)).status, query).toBe(403)
      expect((await personalData('DELETE', as('mallory'), query)).status, query).toBe(403)
    }
    for (const method of ['GET', 'DELETE'] as const) expect((await personalData(method, {})).status).toBe(401)
    expect(await everything()).toHaveLength(5)
  })
})

describe('personal data routes', () => {
  it('answer 501 naming the store when it cannot delete', async () => {
    const { deleteActivities: _deleteActivities, ...rest } = memoryStore()
    const store: Store = rest
    server = await startServer({ store })
    const response = await personalData('DELETE', as(PERSON))
    expect(response.status).toBe(501)
    expect(((await response.json()) as { error: string }).error).toBe('[usertracking] [server] The memory store cannot delete activities (it has no deleteActivities).')
    // Export needs nothing more than a store.
    expect((await personalData('GET', as(PERSON))).status).toBe(200)
  })

  it('refuse parameters that do not apply, and two people at once', async () => {
    server = await startServer()
    expect((await personalData('GET', ADMIN, '?userId=a&anonymousId=b')).status).toBe(400)
    expect((await personalData('DELETE', ADMIN, '?activityType=x')).status).toBe(400)
    expect((await personalData('DELETE', ADMIN, '?format=csv')).status).toBe(400)
    expect((await personalData('GET', ADMIN, '?format=xml')).status).toBe(400)
  })

  it('hash the people in deletion records with the HMAC key when one is set', async () => {
    const key = 'a-secret-of-the-app-32-characters'
    server = await startServer({ deletionHashKey: key })
    await post({ activityType: 'x' }, as(PERSON))
    await personalData('DELETE', as(PERSON))
    const [record] = (await everything()).filter((activity) => activity.activityType === 'data_deletion')
    expect(record!.metadata!.subjectHash).toBe(await deletionHash({ userId: PERSON }, key))
    expect(record!.metadata!.subjectHash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/)
    expect(record!.metadata!.subjectHash).not.toBe(await deletionHash({ userId: PERSON }))
    expect(() => createActivityHandler({ store: memoryStore(), deletionHashKey: 'short' })).toThrow(/options\.deletionHashKey must be a secret string of at least 16 characters/)
  })

  it('answer the deletion even when its record cannot be written, and report that', async () => {
    const errors: unknown[] = []
    const base = memoryStore()
    const store: Store = {
      ...base,
      sink: { name: 'memory', write: async (batch, options) => (batch.some((activity) => activity.activityType === 'data_deletion') ? { type: 'retryable' } : base.sink.write(batch, options)) },
    }
    server = await startServer({ store, onError: (error) => errors.push(error) })
    await post({ activityType: 'x' }, as(PERSON))
    expect(await (await personalData('DELETE', as(PERSON))).json()).toEqual({ deleted: 1 })
    expect(errors).toEqual([expect.objectContaining({ message: '[usertracking] [server] 1 activities were deleted, but the record of that deletion could not be written.' })])
  })
})
