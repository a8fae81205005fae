/**
 * A sign-in in real Chromium: a visitor browses anonymously, signs in (the server's `authenticate`
 * knows them by a session cookie), the page calls `UserTracking.identify`, and the store behind
 * the server package's handler then lists what they did before signing in as the user's;
 * `reset()` at sign-out starts a new anonymous id.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { memoryStore, type Activity } from '@usertracking/core'
import { createActivityHandler } from '@usertracking/server'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildScript, CHROMIUM_ARGS, findChromium, page, readBody, waitFor } from './harness'

const executablePath = findChromium()
const inCi = process.env.CI === 'true'

declare global {
  interface Window {
    UserTracking: import('../../src/user-tracking').UserTrackingApi
  }
}

/** The signed-in user of a request: the app's session cookie, `session=<userId>`. */
function sessionUser(request: Request): string | undefined {
  const cookie = request.headers.get('cookie') ?? ''
  return /(?:^|;\s*)session=([^;]+)/.exec(cookie)?.[1]
}

describe.skipIf(!executablePath && !inCi)('in Chromium, identify() across a sign-in, against the server package’s routes over a store', () => {
  let browser: Browser
  let server: Server
  let url: string
  const store = memoryStore()
  const handler = createActivityHandler({
    store,
    authenticate: (request) => {
      const userId = sessionUser(request)
      return userId ? { userId } : null
    },
  })
  const identifyAnswers: number[] = []

  beforeAll(async () => {
    if (!executablePath) {
      throw new Error('[usertracking] [browser-e2e] CI=true but Chromium is not installed; install it with apt-get install -y chromium, or set CHROMIUM_PATH.')
    }
    const script = await buildScript()
    // No time on page: its beacon, sent when the home page is left, would land at no fixed moment.
    const home = page('Shop', { 'track-time-on-page': 'false' })
    server = createServer(async (request, response) => {
      const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname
      if (path.startsWith('/api/')) {
        const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await readBody(request)
        const answer = await handler(
          new Request(new URL(request.url ?? '/', url), { method: request.method, headers: request.headers as Record<string, string>, body }),
        )
        if (path === '/api/identify') identifyAnswers.push(answer.status)
        response.writeHead(answer.status, Object.fromEntries(answer.headers)).end(Buffer.from(await answer.arrayBuffer()))
        return
      }
      if (path === '/usertracking.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(script)
        return
      }
      // Signing in sets the session cookie the app's authenticate reads.
      const headers: Record<string, string> = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }
      if (path === '/login') headers['set-cookie'] = 'session=user-42; Path=/; HttpOnly; SameSite=Lax'
      if (path === '/' || path === '/login') response.writeHead(200, headers).end(home)
      else response.writeHead(404).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS })
  })

  afterAll(async () => {
    await browser?.close()
    handler.close()
    server?.closeAllConnections()
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  })

  const all = async (): Promise<Activity[]> => {
    const rows: Activity[] = []
    for await (const row of store.export()) rows.push(row)
    return rows
  }
  const mine = async () => (await store.list({ userId: 'user-42', limit: 1000 })).items

  it('counts what the visitor did before signing in as the user’s, and starts a new anonymous id at sign-out', async () => {
    const context = await browser.newContext()
    try {
      const tab = await context.newPage()
      await tab.goto(`${url}/`)
      const anonymous = await tab.evaluate(() => [window.UserTracking.track('browse_catalog'), window.UserTracking.track('add_to_cart')])
      await tab.evaluate(() => window.UserTracking.flush())
      await waitFor('the anonymous activities in the store', async () => {
        const ids = new Set((await all()).map((row) => row.id))
        return anonymous.every((id) => ids.has(id!))
      })
      const before = (await all()).filter((row) => anonymous.includes(row.id))
      const visitor = before[0]!.anonymousId!
      expect(before.map((row) => [row.userId, row.anonymousId])).toEqual([
        [undefined, visitor],
        [undefined, visitor],
      ])
      expect(await mine()).toEqual([])

      // Sign in: the server sets the session cookie; the app, now knowing the user, calls identify.
      await tab.goto(`${url}/login`)
      await tab.evaluate(() => window.UserTracking.identify('user-42', { plan: 'pro' }))
      const signedIn = await tab.evaluate(() => window.UserTracking.track('checkout'))
      await tab.evaluate(() => window.UserTracking.flush())
      await waitFor('the user’s list to hold what they did before signing in', async () => {
        const ids = new Set((await mine()).map((row) => row.id))
        return [...anonymous, signedIn].every((id) => ids.has(id!))
      })
      expect(identifyAnswers).toEqual([200])
      const owned = await mine()
      // Both page visits (home and login), the two anonymous actions, identify and checkout: one person.
      expect(owned.map((row) => row.activityType).sort()).toEqual(['add_to_cart', 'browse_catalog', 'checkout', 'identify', 'page_visit', 'page_visit'])
      expect(owned.every((row) => row.anonymousId === visitor)).toBe(true)
      expect(await store.stats({ userId: 'user-42' })).toMatchObject({ total: 6, uniqueUsers: 1, uniqueVisitors: 1 })

      // Sign out: the app resets tracking and the session ends.
      await tab.evaluate(() => window.UserTracking.reset())
      await context.clearCookies()
      const after = await tab.evaluate(() => window.UserTracking.track('browse_after_logout'))
      await tab.evaluate(() => window.UserTracking.flush())
      await waitFor('the activity after sign-out in the store', async () => (await all()).some((row) => row.id === after))
      const stranger = (await all()).find((row) => row.id === after)!
      expect(stranger.userId).toBeUndefined()
      expect(stranger.anonymousId).toBeTruthy()
      expect(stranger.anonymousId).not.toBe(visitor)
      expect((await mine()).map((row) => row.id)).not.toContain(after)
    } finally {
      await context.close()
    }
  })
})
