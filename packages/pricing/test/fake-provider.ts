/**
 * A loopback stand-in for the OpenAI and Anthropic HTTP APIs, speaking their JSON and SSE wire
 * formats so the real client libraries (`openai`, `@anthropic-ai/sdk`, the AI SDK's providers) run
 * unchanged against it. It serves fixed answers with known token counts:
 *
 * - `POST /v1/chat/completions`: plain, and `stream: true` with a usage chunk when
 *   `stream_options.include_usage` is set.
 * - `POST /v1/responses`: plain, and `stream: true` ending in `response.completed`.
 * - `POST /v1/messages`: plain and `stream: true`, with cache read and write tokens.
 *
 * The `x-fake-scenario` request header picks a failure: `fail-400`, `fail-500`, `error-mid-stream`
 * (Anthropic `error` event, OpenAI connection reset, after two text chunks), or `hold` (the stream
 * stops before its last events until {@link FakeProvider.release} is called).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** The counts every successful answer reports. */
export const USAGE = {
  /** OpenAI chat completions: 12 prompt tokens (4 of them cached), 30 completion tokens. */
  chat: { prompt: 12, cached: 4, completion: 30, total: 42 },
  /** OpenAI responses: 9 input tokens (3 cached), 7 output tokens. */
  responses: { input: 9, cached: 3, output: 7, total: 16 },
  /** Anthropic: 20 uncached input tokens, 10 read from and 5 written to the cache, 15 output tokens. */
  anthropic: { input: 20, cacheRead: 10, cacheWrite: 5, output: 15 },
} as const

/** The text every answer streams, in these chunks. */
export const TEXT_CHUNKS = ['Hel', 'lo', ' there'] as const

/** A running fake provider. */
export interface FakeProvider {
  /** `http://127.0.0.1:<port>`. */
  url: string
  /** Each request's path, scenario and parsed body, in arrival order. */
  requests: { path: string; scenario: string | undefined; body: Record<string, unknown> }[]
  /** Lets every stream held by the `hold` scenario finish. */
  release(): void
  close(): Promise<void>
}

interface Exchange {
  response: ServerResponse
  body: Record<string, unknown>
  scenario: string | undefined
  held: Promise<void>
}

const CREATED = 1_700_000_000

function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>)
      } catch (error) {
        reject(error)
      }
    })
    request.on('error', reject)
  })
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_fake', 'request-id': 'req_fake', ...headers })
  response.end(JSON.stringify(body))
}

function startSse(response: ServerResponse): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': 'req_fake', 'request-id': 'req_fake' })
}

function sse(response: ServerResponse, data: unknown, event?: string): void {
  response.write(`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`)
}

function model(body: Record<string, unknown>, fallback: string): string {
  return typeof body.model === 'string' ? body.model : fallback
}

// ---------------------------------------------------------------- OpenAI chat completions

function chatUsage() {
  const { prompt, cached, completion, total } = USAGE.chat
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: total,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  }
}

async function chatCompletions({ response, body, scenario, held }: Exchange): Promise<void> {
  const name = model(body, 'gpt-4o')
  const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: CREATED, model: name, system_fingerprint: 'fp_fake' }
  if (body.stream !== true) {
    sendJson(response, 200, {
      id: 'chatcmpl-fake',
      object: 'chat.completion',
      created: CREATED,
      model: name,
      system_fingerprint: 'fp_fake',
      choices: [{ index: 0, message: { role: 'assistant', content: TEXT_CHUNKS.join(''), refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: chatUsage(),
    })
    return
  }
  const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true
  startSse(response)
  sse(response, { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...(includeUsage ? { usage: null } : {}) })
  for (const [index, text] of TEXT_CHUNKS.entries()) {
    if (scenario === 'error-mid-stream' && index === 2) {
      response.destroy()
      return
    }
    if (scenario === 'hold' && index === TEXT_CHUNKS.length - 1) await held
    sse(response, { ...base, choices: [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }], ...(includeUsage ? { usage: null } : {}) })
  }
  sse(response, { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], ...(includeUsage ? { usage: null } : {}) })
  if (includeUsage) sse(response, { ...base, choices: [], usage: chatUsage() })
  sse(response, '[DONE]')
  response.end()
}

// ---------------------------------------------------------------- OpenAI responses

function responseObject(name: string, status: 'in_progress' | 'completed') {
  const { input, cached, output, total } = USAGE.responses
  const done = status === 'completed'
  return {
    id: 'resp_fake',
    object: 'response',
    created_at: CREATED,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model: name,
    output: done ? [messageItem('completed')] : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage: done
      ? { input_tokens: input, input_tokens_details: { cached_tokens: cached }, output_tokens: output, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: total }
      : null,
    user: null,
    metadata: {},
  }
}

function messageItem(status: 'in_progress' | 'completed') {
  return {
    type: 'message',
    id: 'msg_fake',
    status,
    role: 'assistant',
    content: status === 'completed' ? [{ type: 'output_text', text: TEXT_CHUNKS.join(''), annotations: [], logprobs: [] }] : [],
  }
}

async function responses({ response, body, scenario, held }: Exchange): Promise<void> {
  const name = model(body, 'gpt-4o')
  if (body.stream !== true) {
    sendJson(response, 200, responseObject(name, 'completed'))
    return
  }
  startSse(response)
  let sequence = 0
  const event = (type: string, fields: Record<string, unknown>) => sse(response, { type, sequence_number: sequence++, ...fields }, type)
  event('response.created', { response: responseObject(name, 'in_progress') })
  event('response.in_progress', { response: responseObject(name, 'in_progress') })
  event('response.output_item.added', { output_index: 0, item: messageItem('in_progress') })
  event('response.content_part.added', { item_id: 'msg_fake', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } })
  for (const [index, text] of TEXT_CHUNKS.entries()) {
    if (scenario === 'error-mid-stream' && index === 2) {
      response.destroy()
      return
    }
    if (scenario === 'hold' && index === TEXT_CHUNKS.length - 1) await held
    event('response.output_text.delta', { item_id: 'msg_fake', output_index: 0, content_index: 0, delta: text, logprobs: [] })
  }
  const fullText = TEXT_CHUNKS.join('')
  event('response.output_text.done', { item_id: 'msg_fake', output_index: 0, content_index: 0, text: fullText, logprobs: [] })
  event('response.content_part.done', { item_id: 'msg_fake', output_index: 0, content_index: 0, part: { type: 'output_text', text: fullText, annotations: [], logprobs: [] } })
  event('response.output_item.done', { output_index: 0, item: messageItem('completed') })
  event('response.completed', { response: responseObject(name, 'completed') })
  response.end()
}

// ---------------------------------------------------------------- Anthropic messages

function anthropicUsage(output: number) {
  const { input, cacheRead, cacheWrite } = USAGE.anthropic
  return { input_tokens: input, cache_creation_input_tokens: cacheWrite, cache_read_input_tokens: cacheRead, output_tokens: output, service_tier: 'standard' }
}

async function messages({ response, body, scenario, held }: Exchange): Promise<void> {
  const name = model(body, 'claude-sonnet-4-20250514')
  const message = { id: 'msg_fake', type: 'message', role: 'assistant', model: name, stop_sequence: null }
  if (body.stream !== true) {
    sendJson(response, 200, { ...message, content: [{ type: 'text', text: TEXT_CHUNKS.join('') }], stop_reason: 'end_turn', usage: anthropicUsage(USAGE.anthropic.output) })
    return
  }
  startSse(response)
  // Like the real API: message_start carries the input and cache counts and output 1; message_delta
  // carries the final output count, with the cache fields null ("unchanged").
  sse(response, { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: anthropicUsage(1) } }, 'message_start')
  sse(response, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start')
  sse(response, { type: 'ping' }, 'ping')
  for (const [index, text] of TEXT_CHUNKS.entries()) {
    if (scenario === 'error-mid-stream' && index === 2) {
      sse(response, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'error')
      response.end()
      return
    }
    if (scenario === 'hold' && index === TEXT_CHUNKS.length - 1) await held
    sse(response, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta')
  }
  sse(response, { type: 'content_block_stop', index: 0 }, 'content_block_stop')
  sse(
    response,
    {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: USAGE.anthropic.input, cache_creation_input_tokens: null, cache_read_input_tokens: null, output_tokens: USAGE.anthropic.output },
    },
    'message_delta',
  )
  sse(response, { type: 'message_stop' }, 'message_stop')
  response.end()
}

// ---------------------------------------------------------------- the server

function failure(path: string, status: 400 | 500): unknown {
  const message = status === 400 ? 'The model does not exist.' : 'The server had an error.'
  return path === '/v1/messages'
    ? { type: 'error', error: { type: status === 400 ? 'invalid_request_error' : 'api_error', message } }
    : { error: { message, type: status === 400 ? 'invalid_request_error' : 'server_error', param: null, code: status === 400 ? 'model_not_found' : null } }
}

const ROUTES: Record<string, (exchange: Exchange) => Promise<void>> = {
  '/v1/chat/completions': chatCompletions,
  '/v1/responses': responses,
  '/v1/messages': messages,
}

/** Starts the fake provider on 127.0.0.1 (a free port). */
export async function startFakeProvider(): Promise<FakeProvider> {
  const requests: FakeProvider['requests'] = []
  let releaseHeld: () => void = () => {}
  let held = new Promise<void>((resolve) => (releaseHeld = resolve))
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0]!
    const route = ROUTES[path]
    const scenarioHeader = request.headers['x-fake-scenario']
    const scenario = Array.isArray(scenarioHeader) ? scenarioHeader[0] : scenarioHeader
    readJson(request)
      .then(async (body) => {
        requests.push({ path, scenario, body })
        if (!route || request.method !== 'POST') return sendJson(response, 404, failure(path, 400))
        if (scenario === 'fail-400') return sendJson(response, 400, failure(path, 400))
        if (scenario === 'fail-500') return sendJson(response, 500, failure(path, 500))
        await route({ response, body, scenario, held })
      })
      .catch(() => {
        if (!response.headersSent) sendJson(response, 400, failure(path, 400))
        else response.destroy()
      })
  })
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    release() {
      releaseHeld()
      held = new Promise<void>((resolve) => (releaseHeld = resolve))
    },
    close() {
      releaseHeld()
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
