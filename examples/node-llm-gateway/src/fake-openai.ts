/**
 * A stand-in for an OpenAI-compatible endpoint on 127.0.0.1, so the example runs offline:
 * `POST /v1/chat/completions` answers the last user message reversed, in OpenAI's JSON shape, or
 * as server-sent events whose last chunk carries `usage` (as with `stream_options.include_usage`).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

interface ChatRequest {
  model: string
  messages: { role: string; content: string }[]
  stream?: boolean
}

const words = (text: string) => text.split(/\s+/).filter(Boolean)

export async function startFakeOpenAI(): Promise<{ baseUrl: string; server: Server }> {
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
      response.writeHead(404).end()
      return
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest
    const answer = words(body.messages.at(-1)?.content ?? '').reverse()
    const promptTokens = words(body.messages.map((message) => message.content).join(' ')).length
    const usage = { prompt_tokens: promptTokens, completion_tokens: answer.length, total_tokens: promptTokens + answer.length }
    const id = `chatcmpl-${Date.now()}`
    if (!body.stream) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: answer.join(' ') }, finish_reason: 'stop' }],
          usage,
        }),
      )
      return
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    const send = (data: unknown) => response.write(`data: ${JSON.stringify(data)}\n\n`)
    for (const [index, word] of answer.entries()) {
      send({ id, object: 'chat.completion.chunk', model: body.model, choices: [{ index: 0, delta: { content: index === 0 ? word : ` ${word}` } }] })
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    send({ id, object: 'chat.completion.chunk', model: body.model, choices: [], usage })
    response.end('data: [DONE]\n\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, server }
}
