import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Activity, ActivityStats } from '@usertracking/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDemoProcess } from './e2e/demo-process'
import { startDemo, type Demo } from './server/demo-server'
import type { TailorEvent } from './server/tailor'

// The model answers at once here: these tests are about the demo's wiring, not the model's pace.
const FAST_MODEL = { firstTokenDelayMs: 20, tokenIntervalMs: 1 }
const JOB = {
  jobTitle: 'Site Reliability Engineer',
  company: 'Shopify',
  jobDescription: 'Own Kubernetes clusters, observability with Prometheus, incident response.',
  resume: 'Chen Wei\n- Ran Kubernetes clusters serving 40k requests a second\n- Wrote the Prometheus alerts the team still uses',
}

const folders: string[] = []
async function dataFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'usertracking-demo-'))
  folders.push(dir)
  return dir
}
afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true })
})

const quiet = () => {}

/** Signs in as `userId` and returns the cookie header to send. */
async function signIn(demo: Demo, userId: string | null): Promise<string> {
  const response = await fetch(`${demo.url}/demo/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) })
  expect(response.status).toBe(200)
  return response.headers.getSetCookie()[0]!.split(';')[0]!
}

async function list(demo: Demo, cookie: string, query = 'limit=1000'): Promise<Activity[]> {
  const response = await fetch(`${demo.url}/api/activities?${query}`, { headers: { cookie } })
  expect(response.status).toBe(200)
  return ((await response.json()) as { items: Activity[] }).items
}

async function tailor(demo: Demo, cookie: string, body: unknown = JOB): Promise<{ status: number; events: TailorEvent[]; error?: string }> {
  const response = await fetch(`${demo.url}/demo/tailor`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!response.ok) return { status: response.status, events: [], error: ((await response.json()) as { error: string }).error }
  const text = await response.text()
  return { status: response.status, events: text.trim().split('\n').map((line) => JSON.parse(line) as TailorEvent) }
}

/** Reads the live stream until an activity matching `match` arrives (bounded by `timeoutMs`). */
async function nextLive(demo: Demo, cookie: string, match: (activity: Activity) => boolean, timeoutMs = 30_000): Promise<Activity> {
  const response = await fetch(`${demo.url}/api/activities/stream`, { headers: { cookie, accept: 'text/event-stream' }, signal: AbortSignal.timeout(timeoutMs) })
  expect(response.status).toBe(200)
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) throw new Error('The live stream ended before the activity arrived.')
      buffer += value
      const events = buffer.split('\n\n')
      buffer = events.pop()!
      for (const event of events) {
        const data = event.split('\n').find((line) => line.startsWith('data: '))
        if (!event.includes('event: activity') || !data) continue
        const activity = JSON.parse(data.slice(6)) as Activity
        if (match(activity)) return activity
      }
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
}

describe('the demo server', () => {
  let demo: Demo
  let dataDir: string

  beforeAll(async () => {
    dataDir = await dataFolder()
    demo = await startDemo({ port: 0, dataDir, model: FAST_MODEL, log: quiet })
  })
  afterAll(() => demo?.close())

  it('seeds a few hundred activities of several users, types, pages and models on first start', async () => {
    expect(demo.seeded).toBeGreaterThan(200)
    expect(demo.seeded).toBeLessThan(1000)
    const admin = await signIn(demo, 'sam')
    const stats = (await (await fetch(`${demo.url}/api/activities/stats`, { headers: { cookie: admin } })).json()) as ActivityStats
    expect(stats.total).toBe(demo.seeded)
    expect(stats.uniqueUsers).toBe(4)
    expect(stats.uniqueVisitors).toBe(10)
    expect(stats.byType.map((entry) => entry.activityType)).toEqual(expect.arrayContaining(['page_visit', 'button_click', 'form_submit', 'input_focus', 'time_on_page', 'login', 'resume_generation', 'job_match', 'cover_letter']))
    expect(stats.cost.total).toBeGreaterThan(0)
    expect(stats.cost.unpriced).toBe(0)
    const llm = await list(demo, admin, 'limit=1000&activityType=resume_generation&activityType=job_match&activityType=cover_letter')
    expect(new Set(llm.map((activity) => activity.tokenUsage?.model)).size).toBeGreaterThanOrEqual(4)
    const pages = (await (await fetch(`${demo.url}/api/activities/stats?per=page`, { headers: { cookie: admin } })).json()) as ActivityStats
    expect(pages.buckets!.length).toBeGreaterThanOrEqual(5)
  })

  it('serves the app with the script tag and signs a fresh browser in, with secure headers', async () => {
    const response = await fetch(`${demo.url}/activities`)
    expect(response.status).toBe(200)
    const html = await response.text()
    expect(html).toMatch(/<script[^>]+src="\/usertracking\.js"[^>]+data-endpoint="\/api\/activity"/)
    expect(response.headers.getSetCookie()[0]).toMatch(/^demo_session=amara\.[\w-]+;.*HttpOnly; SameSite=Lax/)
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'")
    const script = await fetch(`${demo.url}/usertracking.js`)
    expect(script.headers.get('content-type')).toMatch(/javascript/)
    expect(await script.text()).toContain('UserTracking')
    expect((await fetch(`${demo.url}/nothing-here.js`)).status).toBe(404)
  })

  it('reads only for a signed-in user, and only their own rows; the admin reads everyone’s', async () => {
    expect((await fetch(`${demo.url}/api/activities`)).status).toBe(401)
    // A cookie the server did not sign is nobody's.
    expect((await fetch(`${demo.url}/api/activities`, { headers: { cookie: 'demo_session=sam.forged' } })).status).toBe(401)
    const amara = await list(demo, await signIn(demo, 'amara'), 'limit=1000&userId=ben')
    expect(amara.length).toBeGreaterThan(0)
    expect(new Set(amara.map((activity) => activity.userId))).toEqual(new Set(['amara']))
    const everyone = await list(demo, await signIn(demo, 'sam'))
    expect(new Set(everyone.map((activity) => activity.userId)).size).toBe(5) // four users and the anonymous visitors
    expect((await fetch(`${demo.url}/api/activities`, { headers: { cookie: await signIn(demo, null) } })).status).toBe(401)
    // The browser's anonymous ingest may not claim a user; a signed-in one writes as itself.
    const claim = await fetch(`${demo.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ activities: [{ activityType: 'page_visit', userId: 'amara' }] }) })
    expect(claim.status).toBe(403)
  })

  it('tailors a resume through withActivity: the answer streams, then tokens and cost; the activity is stored and arrives live', async () => {
    const cookie = await signIn(demo, 'chen')
    const arriving = nextLive(demo, cookie, (activity) => activity.activityType === 'resume_generation' && activity.description === 'Tailored resume for Shopify job')
    const { status, events } = await tailor(demo, cookie)
    expect(status).toBe(200)
    const words = events.flatMap((event) => ('delta' in event ? [event.delta] : [])).join('')
    expect(words).toContain('Site Reliability Engineer, tailored for Shopify')
    const done = events.at(-1) as Extract<TailorEvent, { done: true }>
    expect(done.done).toBe(true)
    expect(done.tokenUsage).toMatchObject({ model: 'gpt-4o-mini-2024-07-18' })
    expect(done.tokenUsage!.total).toBe(done.tokenUsage!.input! + done.tokenUsage!.output!)
    expect(done.cost!.total).toBeGreaterThan(0)

    const live = await arriving
    expect(live).toMatchObject({ userId: 'chen', status: 'success', tokenUsage: done.tokenUsage, cost: done.cost, metadata: { company: 'Shopify', jobTitle: 'Site Reliability Engineer' }, context: { page: '/' } })
    expect(live.context?.requestId).toMatch(/^[\da-f-]{36}$/)
    expect(live.durationMs).toBeGreaterThan(0)
    const stored = await list(demo, cookie, 'limit=5&activityType=resume_generation')
    expect(stored[0]!.id).toBe(live.id)
  })

  it('aborts the model call when the page goes away mid-answer, and records the call with what arrived', async () => {
    // Its own demo, with a model slow enough that the answer is still streaming when the page leaves.
    const slow = await startDemo({ port: 0, dataDir: await dataFolder(), model: { firstTokenDelayMs: 20, tokenIntervalMs: 200 }, log: quiet })
    try {
      const cookie = await signIn(slow, 'dana')
      const leaving = new AbortController()
      const since = new Date().toISOString()
      const response = await fetch(`${slow.url}/demo/tailor`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ ...JOB, company: 'Gone' }), signal: leaving.signal })
      const reader = response.body!.getReader()
      expect(new TextDecoder().decode((await reader.read()).value)).toContain('"delta"')
      leaving.abort()
      let recorded: Activity | undefined
      for (const deadline = Date.now() + 30_000; !recorded && Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
        recorded = (await list(slow, cookie, `limit=1&activityType=resume_generation&from=${since}`))[0]
      }
      // Abandoned, not failed; OpenAI sends usage last, so a stream left early has no token count.
      expect(recorded).toMatchObject({ description: 'Tailored resume for Gone job', status: 'success' })
      expect(recorded!.tokenUsage).toBeUndefined()
    } finally {
      await slow.close()
    }
  })

  it('refuses a bad tailoring request with a message naming what is wrong', async () => {
    const cookie = await signIn(demo, 'dana')
    expect(await tailor(demo, cookie, { ...JOB, company: '' })).toMatchObject({ status: 400, error: 'company must be a non-empty string.' })
    expect(await tailor(demo, cookie, { ...JOB, resume: 'x'.repeat(8001) })).toMatchObject({ status: 400, error: 'resume must be at most 8000 characters.' })
    expect(await tailor(demo, await signIn(demo, null))).toMatchObject({ status: 401 })
    const form = await fetch(`${demo.url}/demo/tailor`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: 'company=x' })
    expect(form.status).toBe(415)
    expect((await signInAs(demo, 'mallory')).status).toBe(400)
  })

  it('keeps its data and sign-ins across a restart, seeds only the first time, and starts over with reset', async () => {
    const cookie = await signIn(demo, 'ben')
    const before = await list(demo, cookie)
    await demo.close()
    await demo.close() // twice is fine
    demo = await startDemo({ port: 0, dataDir, model: FAST_MODEL, log: quiet })
    expect(demo.seeded).toBe(0)
    // The same cookie still signs Ben in: the key is kept in the data folder.
    expect((await list(demo, cookie)).map((activity) => activity.id)).toEqual(before.map((activity) => activity.id))
    await demo.close()
    demo = await startDemo({ port: 0, dataDir, model: FAST_MODEL, reset: true, log: quiet })
    expect(demo.seeded).toBeGreaterThan(200)
    expect((await fetch(`${demo.url}/api/activities`, { headers: { cookie } })).status).toBe(401)
  })

  it('refuses a second demo on the same data folder, and a taken port, saying what to do', async () => {
    await expect(startDemo({ port: 0, dataDir, log: quiet })).rejects.toThrow(/Another demo \(process \d+\) is using .*--data/)
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as AddressInfo).port
    const other = await dataFolder()
    await expect(startDemo({ port, dataDir: other, log: quiet })).rejects.toThrow(`Port ${port} on 127.0.0.1 is taken`)
    blocker.close()
    // Nothing was left open by the failed start: the folder opens again.
    const retry = await startDemo({ port: 0, dataDir: other, log: quiet })
    await retry.close()
  })
})

function signInAs(demo: Demo, userId: string): Promise<Response> {
  return fetch(`${demo.url}/demo/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) })
}

describe('pnpm start, as a process', () => {
  it('prints its URLs, and on Ctrl-C flushes the tracker, closes the database and exits 0', async () => {
    const dataDir = await dataFolder()
    const child = await startDemoProcess(dataDir)
    try {
      expect(child.output()).toContain(`My Activities     ${child.url}/activities`)
      expect(child.output()).toContain(`Admin dashboard   ${child.url}/admin`)
      const demo = { url: child.url } as Demo
      const { events } = await tailor(demo, await signIn(demo, 'chen'))
      expect(events.at(-1)).toMatchObject({ done: true })
      // Stopped at once: the tailoring may still sit in the tracker's batch; the flush on Ctrl-C stores it.
      expect(await child.stop()).toBe(0)
      expect(child.output()).toContain('Stopped: activities flushed, database closed.')
    } finally {
      await child.stop()
    }
    const reopened = await startDemo({ port: 0, dataDir, model: FAST_MODEL, log: quiet })
    try {
      const stored = await list(reopened, await signIn(reopened, 'chen'), 'limit=5&activityType=resume_generation')
      expect(stored[0]).toMatchObject({ description: 'Tailored resume for Shopify job', userId: 'chen', context: { page: '/' } })
      expect(Date.parse(stored[0]!.timestamp)).toBeGreaterThan(Date.now() - 120_000)
    } finally {
      await reopened.close()
    }
  })
})
