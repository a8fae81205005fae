import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withActivity, type Activity } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import { startCollector, type Collector } from '../test/collector'
import { startFakeOpenAI, type FakeOpenAI } from '../test/fake-openai'
import { contextMiddleware } from './context-middleware'
import { createNodeTracker, type NodeTracker } from './node-tracker'
import { updateContext } from './request-context'

interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}
interface ChatCompletion {
  model: string
  choices: { message: ChatMessage }[]
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }
}
interface ChatChunk {
  model: string
  choices: { delta: { content?: string } }[]
}

async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ChatChunk> {
  const decoder = new TextDecoder()
  let buffered = ''
  const reader = body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    buffered += decoder.decode(value, { stream: true })
    let end: number
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const event = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      const data = event.replace(/^data: /, '')
      if (data === '[DONE]') return
      yield JSON.parse(data) as ChatChunk
    }
  }
}

/** The gateway under test: an LLM client measured by withActivity, and the session routes around it. */
function createGateway(tracker: NodeTracker, openai: FakeOpenAI, model: string) {
  const request = (messages: ChatMessage[], stream: boolean) =>
    fetch(`${openai.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) }),
    })
  const complete = withActivity(
    tracker,
    { activityType: 'chat_completion', metadata: (messages: ChatMessage[]) => ({ model, stream: false, messages: messages.length }) },
    async (messages: ChatMessage[]) => (await (await request(messages, false)).json()) as ChatCompletion,
  )
  const stream = withActivity(
    tracker,
    { activityType: 'chat_completion', metadata: (messages: ChatMessage[]) => ({ model, stream: true, messages: messages.length }) },
    async (messages: ChatMessage[]) => serverSentEvents((await request(messages, true)).body!),
  )

  const sessions = new Map<string, { title: string; messages: ChatMessage[] }>()
  const middleware = contextMiddleware({
    resolve: (req) => ({
      userId: req.headers.authorization?.replace(/^Bearer /, '') || undefined,
      sessionId: /^\/sessions\/([^/]+)/.exec(req.url ?? '')?.[1],
    }),
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {}
    const [, resource, id, sub] = (req.url ?? '').split('/')
    const json = (status: number, value: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value))
    }

    if (req.method === 'POST' && resource === 'login') {
      updateContext({ userId: String(body.userId) })
      tracker.track({ activityType: 'user_login', metadata: { method: 'password' } })
      return json(200, { token: body.userId })
    }
    if (resource !== 'sessions') return json(404, {})
    if (req.method === 'POST' && !id) {
      const sessionId = randomUUID()
      sessions.set(sessionId, { title: String(body.title ?? 'New chat'), messages: [] })
      updateContext({ sessionId })
      tracker.track({ activityType: 'session_created', metadata: { title: String(body.title ?? 'New chat') } })
      return json(201, { id: sessionId })
    }
    const session = sessions.get(id!)
    if (!session) return json(404, {})
    if (req.method === 'PATCH') {
      session.title = String(body.title)
      tracker.track({ activityType: 'session_updated', metadata: { title: session.title } })
      return json(200, { id })
    }
    if (req.method === 'DELETE') {
      sessions.delete(id!)
      tracker.track({ activityType: 'session_deleted', metadata: { messages: session.messages.length } })
      return json(200, { id })
    }
    if (req.method === 'POST' && sub === 'messages') {
      session.messages.push({ role: 'user', content: String(body.content) })
      tracker.track({ activityType: 'message_sent', metadata: { length: String(body.content).length } })
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/plain' })
        let answer = ''
        for await (const chunk of await stream(session.messages)) {
          const text = chunk.choices[0]?.delta.content ?? ''
          answer += text
          res.write(text)
        }
        session.messages.push({ role: 'assistant', content: answer })
        res.end()
        return
      }
      const completion = await complete(session.messages)
      session.messages.push(completion.choices[0]!.message)
      return json(200, { answer: completion.choices[0]!.message.content })
    }
    json(404, {})
  }

  return createServer((req, res) =>
    middleware(req, res, () => {
      handle(req, res).catch(() => res.writeHead(500).end())
    }),
  )
}

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('the LLM gateway story, end to end', () => {
  it('records chat completions (JSON and streamed) with model, tokens, session, user and duration, and the session lifecycle', async () => {
    const openai = await startFakeOpenAI()
    cleanups.push(() => openai.close())
    const collector: Collector = await startCollector()
    cleanups.push(() => collector.close())
    const tracker = createNodeTracker({
      url: collector.url,
      dir: mkdtempSync(join(tmpdir(), 'usertracking-gateway-')),
      shutdownHooks: false,
    })
    cleanups.push(() => tracker.shutdown())
    const server: Server = createGateway(tracker, openai, 'gpt-4o-mini')
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => server.close(resolve)))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: 'Bearer alice', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      expect(response.status).toBeLessThan(300)
      return response
    }

    await fetch(`${base}/login`, { method: 'POST', body: JSON.stringify({ userId: 'alice' }) })
    const { id: sessionId } = (await (await call('POST', '/sessions', { title: 'Trip' })).json()) as { id: string }
    await call('PATCH', `/sessions/${sessionId}`, { title: 'Trip to Kyiv' })
    const answer = (await (await call('POST', `/sessions/${sessionId}/messages`, { content: 'plan three days please' })).json()) as { answer: string }
    expect(answer.answer).toBe('please days three plan')
    const streamed = await (await call('POST', `/sessions/${sessionId}/messages`, { content: 'and a museum', stream: true })).text()
    expect(streamed).toBe('museum a and')
    await call('DELETE', `/sessions/${sessionId}`)

    expect(await tracker.flush(5000)).toBe(true)
    const activities = [...collector.received.values()].sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.id.localeCompare(b.id))
    const byType = (type: string) => activities.filter((activity) => activity.activityType === type)

    expect(activities.map((activity) => activity.activityType).sort()).toEqual(
      ['chat_completion', 'chat_completion', 'message_sent', 'message_sent', 'session_created', 'session_deleted', 'session_updated', 'user_login'].sort(),
    )
    for (const activity of activities) expect(activity.userId).toBe('alice')
    for (const activity of activities.filter((item) => item.activityType !== 'user_login')) expect(activity.sessionId).toBe(sessionId)

    const [json, stream] = byType('chat_completion').sort((a, b) => Number(a.metadata!.stream) - Number(b.metadata!.stream)) as [Activity, Activity]
    expect(json).toMatchObject({
      status: 'success',
      tokenUsage: { input: 4, output: 4, total: 8, model: 'gpt-4o-mini' },
      metadata: { model: 'gpt-4o-mini', stream: false, messages: 1 },
    })
    // The second request sends the whole conversation: 4 + 4 + 3 words in, 3 out.
    expect(stream).toMatchObject({
      status: 'success',
      tokenUsage: { input: 11, output: 3, total: 14, model: 'gpt-4o-mini' },
      metadata: { stream: true, messages: 3 },
    })
    for (const completion of [json, stream]) {
      expect(completion.durationMs).toBeGreaterThan(0)
      expect(Date.parse(completion.endTime!)).toBeGreaterThanOrEqual(Date.parse(completion.timestamp))
    }
    // The fake server pauses 2 ms per streamed word: the duration covers the stream, not just the first byte.
    expect(stream.durationMs).toBeGreaterThanOrEqual(6)

    // A completion and the message that caused it share the request's id.
    const messages = byType('message_sent')
    for (const completion of [json, stream]) {
      expect(messages.map((message) => message.context!.requestId)).toContain(completion.context!.requestId)
    }
    expect(new Set(activities.map((activity) => activity.context!.requestId)).size).toBe(6)
  })
})
