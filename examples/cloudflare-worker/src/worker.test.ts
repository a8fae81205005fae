import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Activity } from '@usertracking/core'
import { bundle, createSchema, databaseAvailable, databaseUrl, removeBundles, requireRuntime, startWorker, type TestSchema, type WorkerServer } from '@usertracking/runtimes/harness'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

const workerd = requireRuntime('workerd')
const API_TOKEN = 'example-admin-token-0123456789'
const admin = { authorization: `Bearer ${API_TOKEN}` }

/** Polls the list route until `count` page views are there (the tracker delivers after the pages answered). */
async function pageViews(worker: WorkerServer, count: number): Promise<Activity[]> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const response = await fetch(`${worker.url}/api/activities?activityType=page_view&limit=500`, { headers: admin })
    expect(response.status).toBe(200)
    const { items } = (await response.json()) as { items: Activity[] }
    if (items.length >= count) return items
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`Fewer than ${count} page views arrived within 30 s. The Worker printed:\n${worker.output()}`)
}

describe.skipIf(!workerd)('examples/cloudflare-worker on workerd', () => {
  let script: string
  let worker: WorkerServer | undefined
  let schema: TestSchema | undefined

  beforeAll(async () => {
    // What `wrangler deploy` does: esbuild with the workerd conditions; the runtime provides cloudflare:* and node:*.
    script = await bundle(join(dirname(fileURLToPath(import.meta.url)), 'worker.ts'), { conditions: 'workerd', external: ['cloudflare:*', 'node:*'] })
  })
  afterEach(async () => {
    await worker?.stop()
    await schema?.drop()
    worker = schema = undefined
  })
  afterAll(removeBundles)

  async function exercise(current: WorkerServer): Promise<void> {
    // 40 visitors at once: every page answers, none waits for tracking.
    const pages = await Promise.all(
      Array.from({ length: 40 }, (_, index) => fetch(`${current.url}${index % 2 ? '/pricing' : '/'}`, { headers: { 'x-visitor-id': `visitor-${index}` } })),
    )
    expect(pages.map((page) => page.status)).toEqual(pages.map(() => 200))
    const views = await pageViews(current, 40)
    expect(views).toHaveLength(40)
    expect(new Set(views.map((view) => view.anonymousId)).size).toBe(40)
    expect(views.filter((view) => view.context?.page === '/pricing')).toHaveLength(20)

    // A visitor's own activity through the ingest route: allowed without a user id, refused with one.
    const visitor = await fetch(`${current.url}/api/activity`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ anonymousId: 'visitor-1', activityType: 'button_click', context: { element: 'buy' } }),
    })
    expect(visitor.status).toBe(200)
    const impostor = await fetch(`${current.url}/api/activity`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'someone-else', activityType: 'button_click' }),
    })
    expect(impostor.status).toBe(403)

    // Reads are the admin's; a visitor gets 401.
    expect((await fetch(`${current.url}/api/activities`)).status).toBe(401)
    const stats = await fetch(`${current.url}/api/activities/stats?per=activityType`, { headers: admin })
    expect(await stats.json()).toMatchObject({ total: 41, byType: [{ activityType: 'page_view', count: 40 }, { activityType: 'button_click', count: 1 }] })
    const exported = await fetch(`${current.url}/api/activities/export?format=csv&activityType=page_view`, { headers: admin })
    expect(exported.status).toBe(200)
    expect((await exported.text()).trim().split('\n')).toHaveLength(41)
  }

  it('tracks page views and serves them from the memory store', async () => {
    worker = await startWorker(script, { nodejsCompat: true, bindings: { API_TOKEN } })
    await exercise(worker)
  })

  it.skipIf(!databaseAvailable)('tracks page views and serves them from PostgreSQL through postgres.js on cloudflare:sockets', async () => {
    schema = await createSchema()
    worker = await startWorker(script, { nodejsCompat: true, bindings: { API_TOKEN, DATABASE_URL: databaseUrl, DATABASE_SCHEMA: schema.name } })
    await exercise(worker)
    expect(await schema.rows()).toHaveLength(41)
  })
})
