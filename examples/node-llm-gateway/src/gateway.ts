/**
 * The gateway: login, chat sessions (create / rename / delete), and messages answered by the model.
 * `contextMiddleware` puts each request's user, session and request id into the request context;
 * every `track()` and every `withActivity` call below inherits them.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { contextMiddleware, updateContext, type NodeTracker } from '@usertracking/node'
import type { ChatMessage, createLlmClient } from './llm-client'

type LlmClient = ReturnType<typeof createLlmClient>

export function createGateway(tracker: NodeTracker, llm: LlmClient): Server {
  const sessions = new Map<string, { owner: string; title: string; messages: ChatMessage[] }>()
  const middleware = contextMiddleware({
    // A real gateway verifies a token here; the example's token is the user id.
    resolve: (request) => ({
      userId: request.headers.authorization?.replace(/^Bearer /, '') || undefined,
      sessionId: /^\/sessions\/([^/]+)/.exec(request.url ?? '')?.[1],
    }),
  })

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {}
    const [, resource, id, sub] = (request.url ?? '').split('/')
    const user = request.headers.authorization?.replace(/^Bearer /, '')
    const json = (status: number, value: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value))
    }

    if (request.method === 'POST' && resource === 'login') {
      updateContext({ userId: String(body.userId) })
      tracker.track({ activityType: 'user_login', description: 'Signed in with a password', metadata: { method: 'password' } })
      return json(200, { token: body.userId })
    }
    if (resource !== 'sessions' || !user) return json(404, { error: 'Not found.' })
    if (request.method === 'POST' && !id) {
      const sessionId = randomUUID()
      const title = String(body.title ?? 'New chat')
      sessions.set(sessionId, { owner: user, title, messages: [] })
      updateContext({ sessionId })
      tracker.track({ activityType: 'session_created', metadata: { title } })
      return json(201, { id: sessionId })
    }
    const session = sessions.get(id ?? '')
    if (!session || session.owner !== user) return json(404, { error: 'No such session.' })
    if (request.method === 'PATCH') {
      const previous = session.title
      session.title = String(body.title)
      tracker.track({ activityType: 'session_updated', metadata: { from: previous, to: session.title } })
      return json(200, { id })
    }
    if (request.method === 'DELETE') {
      sessions.delete(id!)
      tracker.track({ activityType: 'session_deleted', metadata: { messages: session.messages.length } })
      return json(200, { id })
    }
    if (request.method === 'POST' && sub === 'messages') {
      const content = String(body.content)
      session.messages.push({ role: 'user', content })
      tracker.track({ activityType: 'message_sent', metadata: { characters: content.length } })
      if (body.stream) {
        response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
        let answer = ''
        for await (const chunk of await llm.stream(session.messages)) {
          const text = chunk.choices[0]?.delta.content ?? ''
          answer += text
          response.write(text)
        }
        session.messages.push({ role: 'assistant', content: answer })
        response.end()
        return
      }
      const completion = await llm.complete(session.messages)
      const message = completion.choices[0]!.message
      session.messages.push(message)
      return json(200, { answer: message.content })
    }
    json(404, { error: 'Not found.' })
  }

  return createServer((request, response) =>
    middleware(request, response, () => {
      handle(request, response).catch((error: unknown) => {
        console.error(error)
        if (!response.headersSent) response.writeHead(500)
        response.end()
      })
    }),
  )
}
