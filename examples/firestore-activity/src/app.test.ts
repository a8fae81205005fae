import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { toNodeListener } from '@usertracking/server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminDb, clearProject, closeClients, emulatorHost, uniqueProjectId } from '../../../packages/firestore/test/emulator'
import { createActivityApp } from './app'

/** The seed's exact payload (story 1). */
const SEED = {
  userId: 'abc123',
  activityType: 'resume_generation',
  description: 'Tailored resume for Amazon job',
  timestamp: '2025-07-06T10:05:00Z',
  tokenUsage: 1420,
  timeTaken: 3.2,
  metadata: { jobTitle: 'Data Engineer', resumeLength: '2 pages' },
}

// Stands in for Firebase Auth's verifyIdToken (its emulator is not on this machine): the app's
// policy is what is under test, and Firestore behind it is the real emulator.
const TOKENS: Record<string, { uid: string; admin?: boolean }> = {
  'token-abc123': { uid: 'abc123' },
  'token-bob': { uid: 'bob' },
  'token-admin': { uid: 'ops', admin: true },
}

describe.runIf(emulatorHost)('the story-1 backend on the Firestore emulator', () => {
  const projectId = uniqueProjectId('example')
  let server: Server
  let base: string
  let app: ReturnType<typeof createActivityApp>
  const errors: unknown[] = []

  beforeAll(async () => {
    app = createActivityApp({
      db: adminDb(projectId),
      verifyIdToken: async (token) => {
        const user = TOKENS[token]
        if (!user) throw new Error('invalid token')
        return user
      },
      onError: (error) => errors.push(error),
    })
    server = createServer(toNodeListener(app.handler))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`
  })
  afterAll(async () => {
    app?.handler.close()
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    await clearProject(projectId)
    await closeClients()
  })

  const call = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } })

  it('answers POST /api/activity with 200 for the seed payload and stores it in Firestore under the user', async () => {
    const response = await call('/activity', 'token-abc123', { method: 'POST', body: JSON.stringify(SEED) })
    expect(response.status).toBe(200)
    const { accepted, ids } = (await response.json()) as { accepted: number; ids: string[] }
    expect(accepted).toBe(1)
    const document = await adminDb(projectId).doc(`user-activities/abc123/activities/${ids[0]}`).get()
    expect(document.get('timestamp').toDate().toISOString()).toBe('2025-07-06T10:05:00.000Z')
    expect(document.get('durationMs')).toBe(3200)
    expect(document.get('tokenUsage')).toEqual({ total: 1420 })
    expect(document.get('metadata')).toEqual(SEED.metadata)
  })

  it('answers 400 naming the field for an invalid payload, 401 without a token, 403 for another user', async () => {
    const invalid = await call('/activity', 'token-abc123', { method: 'POST', body: JSON.stringify({ ...SEED, timestamp: 'yesterday-ish' }) })
    expect(invalid.status).toBe(400)
    expect(JSON.stringify(await invalid.json())).toContain('timestamp')
    expect((await fetch(`${base}/activity`, { method: 'POST', body: JSON.stringify(SEED) })).status).toBe(401)
    expect((await call('/activity', 'token-bob', { method: 'POST', body: JSON.stringify(SEED) })).status).toBe(403)
  })

  it('serves the My Activities page: filters, sorts by tokens, pages, stats and exports, each user only their own', async () => {
    const more = [
      { ...SEED, activityType: 'job_match', tokenUsage: 300, timeTaken: 1.1, timestamp: '2025-07-07T09:00:00Z' },
      { ...SEED, tokenUsage: 2200, timeTaken: 5, timestamp: '2025-07-08T09:00:00Z' },
    ]
    expect((await call('/activity', 'token-abc123', { method: 'POST', body: JSON.stringify(more) })).status).toBe(200)
    expect((await call('/activity', 'token-bob', { method: 'POST', body: JSON.stringify({ ...SEED, userId: 'bob' }) })).status).toBe(200)

    const byTokens = (await (await call('/activities?sort=tokens&order=desc&limit=2', 'token-abc123')).json()) as {
      items: { tokenUsage: { total: number } }[]
      nextCursor: string
    }
    expect(byTokens.items.map((row) => row.tokenUsage.total)).toEqual([2200, 1420])
    const next = (await (await call(`/activities?sort=tokens&order=desc&limit=2&cursor=${byTokens.nextCursor}`, 'token-abc123')).json()) as {
      items: { tokenUsage: { total: number } }[]
    }
    expect(next.items.map((row) => row.tokenUsage.total)).toEqual([300])

    const filtered = (await (await call('/activities?activityType=resume_generation&from=2025-07-07T00:00:00Z&minTokens=1000', 'token-abc123')).json()) as {
      items: { timestamp: string }[]
    }
    expect(filtered.items.map((row) => row.timestamp)).toEqual(['2025-07-08T09:00:00.000Z'])

    // Bob asks for abc123's rows and gets his own.
    const bobs = (await (await call('/activities?userId=abc123', 'token-bob')).json()) as { items: { userId: string }[] }
    expect(bobs.items.map((row) => row.userId)).toEqual(['bob'])

    const stats = (await (await call('/activities/stats', 'token-abc123')).json()) as { total: number; tokens: { total: number } }
    expect(stats).toMatchObject({ total: 3, tokens: { total: 3920 } })

    const csv = await (await call('/activities/export?format=csv&sort=timestamp&order=asc', 'token-abc123')).text()
    const lines = csv.trim().split(/\r?\n/)
    expect(lines).toHaveLength(4)
    expect(lines[1]).toContain('Tailored resume for Amazon job')
    const json = (await (await call('/activities/export?format=json', 'token-admin')).json()) as unknown[]
    expect(json).toHaveLength(4)
  })

  it('pushes an activity written by another process to the live stream', async () => {
    const controller = new AbortController()
    const response = await call('/activities/stream', 'token-abc123', { signal: controller.signal, headers: { accept: 'text/event-stream' } })
    expect(response.status).toBe(200)
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    // Another process writing straight to Firestore: a second firebase-admin client and store.
    const other = createActivityApp({ db: adminDb(projectId), verifyIdToken: async () => ({ uid: 'abc123' }) })
    const written = await other.store.sink.write(
      [{ id: crypto.randomUUID(), userId: 'abc123', activityType: 'job_match', timestamp: new Date().toISOString(), description: 'from a worker' }],
      { signal: new AbortController().signal },
    )
    expect(written).toEqual({ type: 'success' })
    let received = ''
    const deadline = setTimeout(() => controller.abort(), 30_000)
    while (!received.includes('from a worker')) {
      const { value, done } = await reader.read()
      if (done) break
      received += value
    }
    clearTimeout(deadline)
    controller.abort()
    expect(received).toMatch(/event: activity\n(id: .*\n)?data: .*from a worker/)
    expect(errors).toEqual([])
  })
})
