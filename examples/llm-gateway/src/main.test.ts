import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { uniqueSchema } from '../../../packages/postgres/test/database'
import { runExample, type RunningExample } from '../../test/run-example'
import type { ActivityLogEntry } from './gateway'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const LISTENING = /LLM gateway on (http:\/\/[\d.]+:\d+)/
const DEMO_API_KEY = 'sk-demo-0123456789abcdef'

let running: RunningExample | undefined
afterEach(() => {
  if (running?.child.exitCode === null) running.child.kill('SIGKILL')
  running = undefined
})

describe('pnpm start (src/main.ts)', () => {
  const server = Boolean(process.env.DATABASE_URL)
  it(`answers a chat completion through the echo model, logs it into ${server ? 'the activity table at DATABASE_URL' : 'PGlite'}, and stops cleanly on SIGTERM${server ? ', writing what is pending' : ''}`, async () => {
    const schema = uniqueSchema('llm_gateway_main')
    const trackingDir = await mkdtemp(join(tmpdir(), 'llm-gateway-main-'))
    try {
      const app = (running = await runExample(root, { DEMO_API_KEY, DATABASE_SCHEMA: schema, TRACKING_DIR: trackingDir }, LISTENING))
      const headers = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' }
      const completion = await fetch(`${app.url}/v1/chat/completions?privy_user_id=did:privy:demo`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: 'openai/gpt-4', messages: [{ role: 'user', content: 'hello gateway' }] }),
      })
      expect(((await completion.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('gateway hello')
      // The tracker writes in the background; the log shows the row once it is in the table.
      let log: ActivityLogEntry[] = []
      await expect
        .poll(
          async () => {
            log = ((await (await fetch(`${app.url}/api/user/activity/log`, { headers })).json()) as { items: ActivityLogEntry[] }).items
            return log.length
          },
          { timeout: 30_000 },
        )
        .toBe(1)
      expect(log[0]).toMatchObject({ action: 'chat_completion', details: { model: 'openai/gpt-4', tokens_used: 4, privy_user_id: 'did:privy:demo' } })

      // A login just before SIGTERM is written before the process ends.
      expect((await fetch(`${app.url}/auth`, { method: 'POST', headers })).status).toBe(200)
      expect(await app.stop()).toBe(0)
      expect(app.output()).toContain('LLM gateway stopped.')
      if (server) {
        const client = new pg.Client({ connectionString: process.env.DATABASE_URL })
        await client.connect()
        const { rows } = await client.query(`SELECT action FROM "${schema}".activity ORDER BY id`)
        await client.end()
        expect(rows.map((row) => row.action)).toEqual(['chat_completion', 'user_login'])
      }
    } finally {
      await rm(trackingDir, { recursive: true, force: true })
      if (server) {
        const client = new pg.Client({ connectionString: process.env.DATABASE_URL })
        await client.connect()
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
        await client.end()
      }
    }
  })
})
