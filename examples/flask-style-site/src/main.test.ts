import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { runExample, type RunningExample } from '../../test/run-example'
import { ADMIN_PASSWORD, adminCookie } from '../test/start-site'
import type { ActivitiesPage } from './tracking-api'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const LISTENING = /Site on (http:\/\/[\d.]+:\d+)/

let running: RunningExample | undefined
afterEach(() => {
  if (running?.child.exitCode === null) running.child.kill('SIGKILL')
  running = undefined
})

describe('pnpm start (src/main.ts)', () => {
  it('serves the site, keeps its database in DATA_DIR across a restart, and stops cleanly on SIGTERM', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'flask-style-site-'))
    try {
      const env = { ADMIN_PASSWORD, DATA_DIR: dataDir }
      const first = (running = await runExample(root, env, LISTENING))
      expect(await (await fetch(`${first.url}/`)).text()).toContain('<script src="/static/usertracking.global.js" data-endpoint="/api/track"')
      const tracked = await fetch(`${first.url}/api/track`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ activities: [{ activityType: 'page_visit', anonymousId: 'ut_main', context: { page: '/' } }] }),
      })
      expect(tracked.status).toBe(200)
      expect(await first.stop()).toBe(0)
      expect(first.output()).toContain('Site stopped.')

      const second = (running = await runExample(root, env, LISTENING))
      const cookie = (await adminCookie(second.url))!
      const list = (await (await fetch(`${second.url}/api/admin/activities`, { headers: { cookie } })).json()) as ActivitiesPage
      expect(list.activities.map((row) => [row.user_identifier, row.action_type, row.page])).toEqual([['ut_main', 'page_visit', '/']])
      expect(await second.stop()).toBe(0)
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })

  it('refuses to start without an admin password, saying which variable to set', async () => {
    await expect(runExample(root, { ADMIN_PASSWORD: '' }, LISTENING)).rejects.toThrow(/exited with 1[\s\S]*is ADMIN_PASSWORD set\?/)
  })
})
