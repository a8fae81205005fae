import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNodeTracker, type NodeTracker } from '@usertracking/node'
import { toNodeListener } from '@usertracking/server'
import OpenAI from 'openai'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openTestDatabase, uniqueSchema, type TestDatabase } from '../../../packages/postgres/test/database'
import { activityStore } from './activity-store'
import { createAppTables, ensureUser, type AppDatabase } from './app-database'
import { startEchoModel } from './echo-model'
import { createGateway, type ActivityLogEntry } from './gateway'

const ALICE_KEY = 'sk-alice-0123456789abcdef'
const BOB_KEY = 'sk-bob-0123456789abcdef'
const ALICE_PRIVY = 'did:privy:cmgg27la00077ie0cyazmvlsa'
const BOB_PRIVY = 'did:privy:bob'

// One database and one echo model for the file (PGlite takes seconds to start), a schema for each test.
let database: TestDatabase
let echo: Awaited<ReturnType<typeof startEchoModel>>
beforeAll(async () => {
  database = await openTestDatabase()
  echo = await startEchoModel()
})
afterAll(async () => {
  echo?.server.close()
  await database?.close()
})

interface Running {
  url: string
  app: AppDatabase
  tracker: NodeTracker
  alice: number
  bob: number
  errors: unknown[]
  close(): Promise<void>
}
let running: Running | undefined
afterEach(async () => {
  await running?.close()
  running = undefined
})

/** The gateway over fresh app tables, tracking through a file journal into the `activity` table, served by node:http. */
async function start(modelBaseUrl = echo.baseUrl): Promise<Running> {
  const schema = uniqueSchema('llm_gateway')
  const app: AppDatabase = { sql: (text, params) => database.query(text, params), schema }
  await createAppTables(app)
  const alice = await ensureUser(app, ALICE_PRIVY, ALICE_KEY)
  const bob = await ensureUser(app, BOB_PRIVY, BOB_KEY)
  const store = activityStore(database.client, schema)
  await store.migrate()
  const dir = await mkdtemp(join(tmpdir(), 'llm-gateway-'))
  const errors: unknown[] = []
  const tracker = createNodeTracker({ sinks: [store.sink], dir, shutdownHooks: false, onError: (error) => errors.push(error) })
  const llm = new OpenAI({ baseURL: modelBaseUrl, apiKey: 'echo', maxRetries: 0, timeout: 30_000 })
  const gateway = createGateway({ database: app, tracker, store, llm, onError: (error) => errors.push(error) })
  const server: Server = createServer(toNodeListener(gateway))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  running = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    app,
    tracker,
    alice,
    bob,
    errors,
    async close() {
      gateway.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await tracker.shutdown()
      await rm(dir, { recursive: true, force: true })
      await database.exec(`DROP SCHEMA "${schema}" CASCADE`)
    },
  }
  return running
}

function call(gateway: Running, apiKey: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
}

/** The rows of the app's activity table, in the order they were written. */
async function activityRows(gateway: Running): Promise<{ user_id: number | null; action: string; details: Record<string, unknown>; created_at: unknown }[]> {
  await gateway.tracker.flush()
  return (await gateway.app.sql(`SELECT user_id, action, details, created_at FROM "${gateway.app.schema}".activity ORDER BY id`)) as never
}

const chatBody = (content: string, stream = false) => ({ model: 'openai/gpt-4', messages: [{ role: 'user', content }], ...(stream ? { stream } : {}) })

describe(`story 5's gateway into its own activity table (${process.env.DATABASE_URL ? 'the PostgreSQL server at DATABASE_URL' : 'PGlite'})`, () => {
  it('logs login, the session lifecycle, a message and chat completions (JSON and streamed) as the seed’s rows', async () => {
    const gateway = await start()
    expect(await (await call(gateway, ALICE_KEY, 'POST', '/auth')).json()).toEqual({ user_id: gateway.alice, privy_user_id: ALICE_PRIVY })
    const created = await call(gateway, ALICE_KEY, 'POST', '/v1/chat/sessions', { title: 'Trip' })
    expect(created.status).toBe(201)
    const { id: session } = (await created.json()) as { id: number }
    expect((await call(gateway, ALICE_KEY, 'PUT', `/v1/chat/sessions/${session}`, { title: 'Trip to Kyiv' })).status).toBe(200)
    expect((await call(gateway, ALICE_KEY, 'POST', `/v1/chat/sessions/${session}/messages`, { content: 'plan three days for me' })).status).toBe(201)

    const completionPath = `/v1/chat/completions?privy_user_id=${encodeURIComponent(ALICE_PRIVY)}&session_id=${session}`
    const answer = (await (await call(gateway, ALICE_KEY, 'POST', completionPath, chatBody('plan three days for me'))).json()) as OpenAI.ChatCompletion
    expect(answer.choices[0]!.message.content).toBe('me for days three plan')
    expect(answer.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 })

    // A streamed answer is passed through as server-sent events, the usage chunk included.
    const streamed = await call(gateway, ALICE_KEY, 'POST', completionPath, chatBody('add a museum please', true))
    expect(streamed.headers.get('content-type')).toBe('text/event-stream')
    const events = (await streamed.text()).trim().split('\n\n')
    expect(events.at(-1)).toBe('data: [DONE]')
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.replace(/^data: /, '')) as OpenAI.ChatCompletionChunk)
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('please museum a add')
    expect(chunks.at(-1)!.usage).toMatchObject({ total_tokens: 8 })

    expect((await call(gateway, ALICE_KEY, 'DELETE', `/v1/chat/sessions/${session}`)).status).toBe(204)

    const rows = await activityRows(gateway)
    expect(rows.map((row) => [row.user_id, row.action])).toEqual(
      ['user_login', 'session_created', 'session_updated', 'message_sent', 'chat_completion', 'chat_completion', 'session_deleted'].map((action) => [gateway.alice, action]),
    )
    // The seed's "Example Activity Log Entry": { user_id: 21, action: 'chat_completion', details: { model, tokens_used, session_id, privy_user_id }, created_at }.
    const [json, stream] = rows.filter((row) => row.action === 'chat_completion')
    for (const [row, tokens] of [
      [json!, 10],
      [stream!, 8],
    ] as const) {
      expect(row.details).toMatchObject({ model: 'openai/gpt-4', tokens_used: tokens, session_id: session, privy_user_id: ALICE_PRIVY, status: 'success' })
      expect(row.details.activity_id).toMatch(/^[0-9a-f-]{36}$/)
      expect(row.details.durationMs).toEqual(expect.any(Number))
      expect(row.created_at).toBeInstanceOf(Date)
    }
    expect(rows[0]!.details).toMatchObject({ privy_user_id: ALICE_PRIVY })
    expect(rows[1]!.details).toMatchObject({ session_id: session, title: 'Trip' })
    expect(rows[2]!.details).toMatchObject({ session_id: session, previous_title: 'Trip', title: 'Trip to Kyiv' })
    expect(rows[3]!.details).toMatchObject({ session_id: session, role: 'user', characters: 22 })
    expect(gateway.errors).toEqual([])
  })

  it('reads each user their own log and stats back from the table, rows written before the SDK included', async () => {
    const gateway = await start()
    const chat = (apiKey: string, privy: string, content: string) =>
      call(gateway, apiKey, 'POST', `/v1/chat/completions?privy_user_id=${encodeURIComponent(privy)}`, chatBody(content))
    expect((await chat(ALICE_KEY, ALICE_PRIVY, 'one two three')).status).toBe(200)
    expect((await chat(BOB_KEY, BOB_PRIVY, 'four five')).status).toBe(200)
    await gateway.tracker.flush()
    // A row the gateway's own code wrote before it adopted the SDK.
    await gateway.app.sql(
      `INSERT INTO "${gateway.app.schema}".activity (user_id, action, details, created_at) VALUES ($1, 'message_sent', '{"session_id": 42, "privy_user_id": "${ALICE_PRIVY}"}', '2025-01-09 12:40:00')`,
      [gateway.alice],
    )

    const log = async (apiKey: string, query = '') => {
      const response = await call(gateway, apiKey, 'GET', `/api/user/activity/log${query}`)
      expect(response.status).toBe(200)
      return (await response.json()) as { items: ActivityLogEntry[]; nextCursor?: string }
    }
    const alice = await log(ALICE_KEY)
    expect(alice.items).toHaveLength(2)
    expect(alice.items[0]).toEqual({
      user_id: gateway.alice,
      action: 'chat_completion',
      details: { model: 'openai/gpt-4', tokens_used: 6, privy_user_id: ALICE_PRIVY },
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    })
    expect(alice.items[1]).toEqual({
      user_id: gateway.alice,
      action: 'message_sent',
      details: { session_id: 42, privy_user_id: ALICE_PRIVY },
      created_at: '2025-01-09T12:40:00.000Z',
    })
    // Filters and pages work over the app's columns; asking for Bob's rows still answers Alice's.
    expect((await log(ALICE_KEY, '?activityType=message_sent')).items.map((entry) => entry.created_at)).toEqual(['2025-01-09T12:40:00.000Z'])
    const firstPage = await log(ALICE_KEY, '?limit=1')
    expect(firstPage.items.map((entry) => entry.action)).toEqual(['chat_completion'])
    expect((await log(ALICE_KEY, `?limit=1&cursor=${firstPage.nextCursor}`)).items.map((entry) => entry.action)).toEqual(['message_sent'])
    expect((await log(ALICE_KEY, `?userId=${gateway.bob}`)).items.map((entry) => entry.user_id)).toEqual([gateway.alice, gateway.alice])
    expect((await log(BOB_KEY)).items.map((entry) => [entry.user_id, entry.action, entry.details.tokens_used])).toEqual([[gateway.bob, 'chat_completion', 4]])

    const stats = await (await call(gateway, ALICE_KEY, 'GET', '/api/user/activity/stats')).json()
    expect(stats).toMatchObject({ total: 2, tokens: { total: 6 }, byType: expect.arrayContaining([expect.objectContaining({ activityType: 'chat_completion', count: 1 })]) })
    expect((await fetch(`${gateway.url}/api/user/activity/log`)).status).toBe(401)
  })

  it('refuses a missing key, a privy id that is not the key’s user and another user’s session, logging nothing of them', async () => {
    const gateway = await start()
    const { id: bobsSession } = (await (await call(gateway, BOB_KEY, 'POST', '/v1/chat/sessions', { title: 'Bob' })).json()) as { id: number }
    expect((await fetch(`${gateway.url}/auth`, { method: 'POST' })).status).toBe(401)
    expect((await call(gateway, 'sk-nobody-0123456789', 'POST', '/auth')).status).toBe(401)
    expect((await call(gateway, ALICE_KEY, 'POST', `/v1/chat/completions?privy_user_id=${BOB_PRIVY}`, chatBody('hi'))).status).toBe(403)
    expect((await call(gateway, ALICE_KEY, 'PUT', `/v1/chat/sessions/${bobsSession}`, { title: 'mine now' })).status).toBe(404)
    expect((await call(gateway, ALICE_KEY, 'DELETE', `/v1/chat/sessions/${bobsSession}`)).status).toBe(404)
    const noMessages = await call(gateway, ALICE_KEY, 'POST', `/v1/chat/completions?privy_user_id=${encodeURIComponent(ALICE_PRIVY)}`, { model: 'openai/gpt-4', messages: [] })
    expect(noMessages.status).toBe(400)
    expect((await activityRows(gateway)).map((row) => [row.user_id, row.action])).toEqual([[gateway.bob, 'session_created']])
  })

  it('answers 502 when the model provider is down, and logs the failed completion with status error', async () => {
    const down = createServer()
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve))
    const baseUrl = `http://127.0.0.1:${(down.address() as AddressInfo).port}/v1`
    await new Promise((resolve) => down.close(resolve))
    const gateway = await start(baseUrl)
    const response = await call(gateway, ALICE_KEY, 'POST', `/v1/chat/completions?privy_user_id=${encodeURIComponent(ALICE_PRIVY)}`, chatBody('hello'))
    expect(response.status).toBe(502)
    expect(await response.json()).toEqual({ error: 'The model provider failed; try again.' })
    const [row] = await activityRows(gateway)
    expect(row).toMatchObject({ user_id: gateway.alice, action: 'chat_completion', details: { status: 'error', privy_user_id: ALICE_PRIVY } })
    expect(gateway.errors).toHaveLength(1)
  })
})
