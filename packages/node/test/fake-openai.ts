import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A stand-in for an OpenAI-compatible endpoint on 127.0.0.1: `POST /v1/chat/completions`, JSON or SSE. */
export interface FakeOpenAI {
  baseUrl: string
  close(): Promise<void>
}

interface ChatRequest {
  model: string
  messages: { role: string; content: string }[]
  stream?: boolean
}

/**
 * Answers with the last user message reversed, counting one token per word. Streams end with a
 * chunk that has no choices and carries `usage`, as OpenAI does with `stream_options.include_usage`.
 */
export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
      response.writeHead(404).end()
      return
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest
    const prompt = body.messages.map((message) => message.content).join(' ')
    const words = (body.messages.at(-1)?.content ?? '').split(/\s+/).filter(Boolean).reverse()
    const usage = {
      prompt_tokens: prompt.split(/\s+/).filter(Boolean).length,
      completion_tokens: words.length,
      total_tokens: prompt.split(/\s+/).filter(Boolean).length + words.length,
    }
    const id = `chatcmpl-${Date.now()}`
    if (!body.stream) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: words.join(' ') }, finish_reason: 'stop' }],
          usage,
        }),
      )
      return
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    const send = (data: unknown) => response.write(`data: ${JSON.stringify(data)}\n\n`)
    for (const [index, word] of words.entries()) {
      send({ id, object: 'chat.completion.chunk', model: body.model, choices: [{ index: 0, delta: { content: index === 0 ? word : ` ${word}` } }] })
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    send({ id, object: 'chat.completion.chunk', model: body.model, choices: [], usage })
    response.end('data: [DONE]\n\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
