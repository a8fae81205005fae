import { randomUUID } from 'node:crypto'
import { withActivity, type Activity, type Store, type Tracker } from '@usertracking/core'
import { runWithContext, updateContext } from '@usertracking/node'
import { createActivityHandler, type ActivityHandler, type HandlerContext } from '@usertracking/server'
import OpenAI from 'openai'
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions'
import { table, userByApiKey, type AppDatabase } from './app-database'

/** What {@link createGateway} needs. */
export interface GatewayOptions {
  /** The gateway's own tables: users, chat sessions, messages. */
  database: AppDatabase
  /** Tracks into `store` (a `createNodeTracker` whose sink is `store.sink`). */
  tracker: Tracker
  /** The store over the `activity` table, read by the activity routes. */
  store: Store
  /** The model provider, OpenAI-compatible (OpenRouter, OpenAI, a local server). */
  llm: OpenAI
  /** Failures the client is not told the details of. @default console.error */
  onError?: (error: unknown) => void
}

/** The gateway as one web-standard handler; serve it with `toNodeListener`. */
export interface Gateway {
  (request: Request, context?: HandlerContext): Promise<Response>
  /** Stops the activity routes' background work. */
  close(): void
}

/** One entry of `GET /api/user/activity/log`, as the seed's "Example Activity Log Entry". */
export interface ActivityLogEntry {
  user_id: number
  action: string
  details: Record<string, unknown>
  created_at: string
}

/** Largest request body, in bytes: a long conversation fits, a runaway client does not. */
const MAX_BODY_BYTES = 1_048_576

class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

async function readJson(request: Request): Promise<Record<string, unknown>> {
  const reader = request.body?.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (let read = await reader?.read(); read && !read.done; read = await reader!.read()) {
    size += read.value.byteLength
    if (size > MAX_BODY_BYTES) {
      await reader!.cancel()
      throw new RequestError(413, `The body is larger than ${MAX_BODY_BYTES} bytes.`)
    }
    chunks.push(read.value)
  }
  let body: unknown
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
  } catch {
    throw new RequestError(400, 'The body must be JSON.')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RequestError(400, 'The body must be a JSON object.')
  return body as Record<string, unknown>
}

/** An activity as the settings page's Activity tab reads it: the seed's entry, `details` rebuilt from the mapped fields. */
export function toLogEntry(activity: Activity): ActivityLogEntry {
  return {
    user_id: Number(activity.userId),
    action: activity.activityType,
    details: {
      ...activity.metadata,
      model: activity.tokenUsage?.model,
      tokens_used: activity.tokenUsage?.total,
      session_id: activity.sessionId === undefined ? undefined : Number(activity.sessionId),
    },
    created_at: activity.timestamp,
  }
}

/**
 * Story 5's gateway. Every route takes the user's API key (`Authorization: Bearer …`) and logs what
 * the seed asks for into the app's `activity` table, through the tracker:
 *
 * - `POST /auth` → `user_login`;
 * - `POST /v1/chat/completions?privy_user_id=…&session_id=…` → forwarded to the model, and one
 *   `chat_completion` (model, tokens used, session id, privy user id, duration), also for
 *   `stream: true`;
 * - `POST /v1/chat/sessions`, `PUT` / `DELETE /v1/chat/sessions/{id}`,
 *   `POST /v1/chat/sessions/{id}/messages` → `session_created`, `session_updated`,
 *   `session_deleted`, `message_sent`;
 * - `GET /api/user/activity/log` (`{ items: ActivityLogEntry[], nextCursor? }`) and
 *   `GET /api/user/activity/stats`: the signed-in user's own rows, read back from the table.
 */
export function createGateway(options: GatewayOptions): Gateway {
  const { database, tracker, llm } = options
  const onError = options.onError ?? console.error
  const authenticate = async (request: Request) => {
    const apiKey = /^Bearer (\S+)$/.exec(request.headers.get('authorization') ?? '')?.[1]
    return apiKey ? userByApiKey(database, apiKey) : undefined
  }

  const activityRoutes: ActivityHandler = createActivityHandler({
    store: options.store,
    // Each user reads their own rows: a principal that is not an admin is narrowed to its userId.
    authenticate: async (request) => {
      const user = await authenticate(request)
      return user ? { userId: String(user.id) } : null
    },
    routes: { ingest: false, event: false, list: '/user/activity/log', stats: '/user/activity/stats', export: false, stream: false },
    present: { list: ({ items, nextCursor }) => ({ items: items.map(toLogEntry), ...(nextCursor ? { nextCursor } : {}) }) },
    metrics: false,
    onError,
  })

  // The user and session come from the request context; the model and the tokens from the answer.
  const complete = withActivity(tracker, { activityType: 'chat_completion' }, (body: ChatCompletionCreateParamsNonStreaming) => llm.chat.completions.create(body))
  const completeStreamed = withActivity(tracker, { activityType: 'chat_completion' }, (body: ChatCompletionCreateParamsStreaming) => llm.chat.completions.create(body))

  async function ownSession(userId: number, id: string): Promise<{ id: number; title: string }> {
    const [row] = await database.sql(`SELECT id, title FROM ${table(database, 'chat_sessions')} WHERE id = $1 AND user_id = $2`, [Number(id), userId])
    if (!row) throw new RequestError(404, `No chat session ${id}.`)
    return { id: Number(row.id), title: String(row.title) }
  }

  async function chatCompletion(request: Request, url: URL, user: { id: number; privyUserId: string }): Promise<Response> {
    if (url.searchParams.get('privy_user_id') !== user.privyUserId) throw new RequestError(403, 'privy_user_id is not the user of this API key.')
    const sessionId = url.searchParams.get('session_id')
    if (sessionId !== null) updateContext({ sessionId: (await ownSession(user.id, sessionId)).id })
    const body = await readJson(request)
    if (typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
      throw new RequestError(400, 'A chat completion needs a model and at least one message.')
    }
    if (body.stream !== true) return Response.json(await complete(body as unknown as ChatCompletionCreateParamsNonStreaming))

    // Usage comes in a last chunk only when asked for; the gateway always asks, to log the tokens.
    const stream = await completeStreamed({ ...(body as unknown as ChatCompletionCreateParamsStreaming), stream_options: { include_usage: true } })
    const chunks = stream[Symbol.asyncIterator]()
    const encoder = new TextEncoder()
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const next = await chunks.next()
            if (next.done) {
              controller.enqueue(encoder.encode('data: [DONE]\n\n'))
              controller.close()
            } else controller.enqueue(encoder.encode(`data: ${JSON.stringify(next.value)}\n\n`))
          } catch (error) {
            onError(error)
            controller.error(error)
          }
        },
        // The client went away: stop the model's answer too (withActivity records the call as cut short).
        cancel: () => stream.controller.abort(),
      }),
      { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } },
    )
  }

  async function route(request: Request, user: { id: number; privyUserId: string }): Promise<Response> {
    const url = new URL(request.url)
    const { pathname } = url
    const method = request.method
    if (method === 'POST' && pathname === '/auth') {
      tracker.track({ activityType: 'user_login' })
      return Response.json({ user_id: user.id, privy_user_id: user.privyUserId })
    }
    if (method === 'POST' && pathname === '/v1/chat/completions') return chatCompletion(request, url, user)
    if (method === 'POST' && pathname === '/v1/chat/sessions') {
      const { title = 'New chat' } = await readJson(request)
      const [row] = await database.sql(`INSERT INTO ${table(database, 'chat_sessions')} (user_id, title) VALUES ($1, $2) RETURNING id`, [user.id, String(title)])
      const id = Number(row!.id)
      tracker.track({ activityType: 'session_created', sessionId: id, metadata: { title: String(title) } })
      return Response.json({ id, title: String(title) }, { status: 201 })
    }
    const match = /^\/v1\/chat\/sessions\/(\d{1,9})(\/messages)?$/.exec(pathname)
    if (match) {
      const session = await ownSession(user.id, match[1]!)
      if (method === 'POST' && match[2]) {
        const { role = 'user', content } = await readJson(request)
        if (typeof content !== 'string') throw new RequestError(400, 'A message needs its content.')
        const [row] = await database.sql(`INSERT INTO ${table(database, 'chat_messages')} (session_id, role, content) VALUES ($1, $2, $3) RETURNING id`, [
          session.id,
          String(role),
          content,
        ])
        tracker.track({ activityType: 'message_sent', sessionId: session.id, metadata: { role: String(role), characters: content.length } })
        return Response.json({ id: Number(row!.id) }, { status: 201 })
      }
      if (method === 'PUT' && !match[2]) {
        const { title } = await readJson(request)
        if (typeof title !== 'string') throw new RequestError(400, 'A session needs a title.')
        await database.sql(`UPDATE ${table(database, 'chat_sessions')} SET title = $1 WHERE id = $2`, [title, session.id])
        tracker.track({ activityType: 'session_updated', sessionId: session.id, metadata: { previous_title: session.title, title } })
        return Response.json({ id: session.id, title })
      }
      if (method === 'DELETE' && !match[2]) {
        await database.sql(`DELETE FROM ${table(database, 'chat_sessions')} WHERE id = $1`, [session.id])
        tracker.track({ activityType: 'session_deleted', sessionId: session.id })
        return new Response(null, { status: 204 })
      }
    }
    throw new RequestError(404, `No route ${method} ${pathname}.`)
  }

  async function handle(request: Request, context?: HandlerContext): Promise<Response> {
    if (new URL(request.url).pathname.startsWith('/api/')) return activityRoutes(request, context)
    try {
      const user = await authenticate(request)
      if (!user) throw new RequestError(401, 'Send your API key as Authorization: Bearer <key>.')
      // Every activity of this request is the user's, with the privy id the seed's details carry.
      const fields = { userId: user.id, requestId: randomUUID(), metadata: { privy_user_id: user.privyUserId } }
      return await runWithContext(fields, () => route(request, user))
    } catch (error) {
      if (error instanceof RequestError) return Response.json({ error: error.message }, { status: error.status })
      // The provider refused or failed: a 4xx is the caller's to fix, anything else is a bad gateway.
      if (error instanceof OpenAI.APIError && error.status !== undefined && error.status < 500) {
        return Response.json({ error: `The model provider answered ${error.status}: ${error.message}` }, { status: error.status })
      }
      onError(error)
      if (error instanceof OpenAI.APIError) return Response.json({ error: 'The model provider failed; try again.' }, { status: 502 })
      return Response.json({ error: 'The gateway could not answer; try again.' }, { status: 503, headers: { 'retry-after': '5' } })
    }
  }

  return Object.assign(handle, { close: () => activityRoutes.close() })
}
