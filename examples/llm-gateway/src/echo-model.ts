/**
 * A stand-in for the gateway's model provider on 127.0.0.1, so the example runs offline (set
 * `UPSTREAM_BASE_URL` for a real one): `POST /v1/chat/completions` answers the last user message
 * with its words reversed, in OpenAI's JSON shape, or as server-sent events whose last chunk
 * carries `usage` when `stream_options.include_usage` asks for it. A prompt token is a word.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

interface ChatRequest {
  model: string
  messages: { role: string; content: string }[]
  stream?: boolean
  stream_options?: { include_usage?: boolean }
}

const words = (text: string) => text.split(/\s+/).filter(Boolean)

async function readRequest(request: IncomingMessage): Promise<ChatRequest | undefined> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest
    return typeof body.model === 'string' && Array.isArray(body.messages) ? body : undefined
  } catch {
    return undefined
  }
}

/** Starts the echo model; `baseUrl` is what an OpenAI client takes as `baseURL`. */
export async function startEchoModel(): Promise<{ baseUrl: string; server: Server }> {
  const server = createServer((request, response) => {
    void (async () => {
      const body = request.method === 'POST' && request.url === '/v1/chat/completions' ? await readRequest(request) : undefined
      if (!body) {
        response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"Expected a chat completion request."}}')
        return
      }
      const answer = words(body.messages.at(-1)?.content ?? '').reverse()
      const promptTokens = words(body.messages.map((message) => message.content).join(' ')).length
      const usage = { prompt_tokens: promptTokens, completion_tokens: answer.length, total_tokens: promptTokens + answer.length }
      const id = `chatcmpl-echo-${Date.now()}`
      const created = Math.floor(Date.now() / 1000)
      if (!body.stream) {
        const message = { role: 'assistant', content: answer.join(' ') }
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ id, object: 'chat.completion', created, model: body.model, choices: [{ index: 0, message, finish_reason: 'stop' }], usage }))
        return
      }
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      const send = (data: unknown) => response.write(`data: ${JSON.stringify(data)}\n\n`)
      for (const [index, word] of answer.entries()) {
        send({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta: { content: index === 0 ? word : ` ${word}` }, finish_reason: null }] })
      }
      send({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })
      if (body.stream_options?.include_usage) send({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage })
      response.end('data: [DONE]\n\n')
    })().catch((error: unknown) => {
      console.error('[echo-model]', error)
      response.destroy()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, server }
}
