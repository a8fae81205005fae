import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Timing of the fake model, chosen to feel like a small hosted model. */
export interface FakeModelOptions {
  /** Time before the first token, in ms (a hosted model's queue and prompt processing). @default 700 */
  firstTokenDelayMs?: number
  /** Time between streamed words, in ms. @default 30 */
  tokenIntervalMs?: number
}

/** A running fake model. */
export interface FakeModel {
  /** Its base URL, e.g. `http://127.0.0.1:41234/v1`: what an OpenAI client's `baseURL` takes. */
  url: string
  close(): Promise<void>
}

/** The model id it answers as: a dated snapshot, as OpenAI reports it, which the price table knows. */
export const FAKE_MODEL_ID = 'gpt-4o-mini-2024-07-18'

interface ChatRequest {
  stream?: boolean
  stream_options?: { include_usage?: boolean }
  messages?: { role: string; content: unknown }[]
}

// About four characters a token for English text: OpenAI's rule of thumb.
const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4))

function text(content: unknown): string {
  if (typeof content === 'string') return content
  return Array.isArray(content) ? content.map((part) => (typeof part?.text === 'string' ? part.text : '')).join('') : ''
}

/** The line after `label:` in the prompt, or after it up to the next blank line when `block`. */
function field(prompt: string, label: string, block = false): string {
  const start = prompt.indexOf(`${label}:`)
  if (start < 0) return ''
  const rest = prompt.slice(start + label.length + 1)
  return (block ? rest.split(/\n\s*\n(?=[A-Z][a-z ]+:)/)[0]! : rest.split('\n')[0]!).trim()
}

/** A tailored resume made from the prompt's job and resume: plausible, deterministic, with no model behind it. */
export function tailoredResume(prompt: string): string {
  const job = field(prompt, 'Job title') || 'the role'
  const company = field(prompt, 'Company') || 'the company'
  const description = field(prompt, 'Job description', true)
  const resume = field(prompt, 'Resume', true)
  const ownWords = new Set(job.toLowerCase().split(/\s+/))
  const keywords = [...new Set(description.toLowerCase().match(/[a-z][a-z+#-]{5,}/g) ?? [])].filter((word) => !STOP_WORDS.has(word) && !ownWords.has(word)).slice(0, 4)
  const lines = resume
    .split('\n')
    .map((line) => line.replace(/^[-•*]\s*/, '').trim())
    .filter(Boolean)
  // A short first line without a bullet is the candidate's name, as resumes start.
  const name = lines.length > 1 && lines[0]!.split(/\s+/).length <= 4 ? lines.shift()! : 'Candidate'
  const focus = (index: number) => keywords[index % Math.max(1, keywords.length)] ?? 'the team’s goals'
  const highlights = (lines.length > 0 ? lines.slice(0, 4) : ['Delivered projects end to end with measurable results']).map(
    (line, index) => `• ${line.replace(/\.$/, '')}, the experience ${company} asks for in ${focus(index)}.`,
  )
  return [
    `${name} — ${job}, tailored for ${company}`,
    '',
    `Summary: ${job} who turns ${focus(0)} and ${focus(1)} into results. Ready to bring that to ${company}.`,
    '',
    'Highlights',
    ...highlights,
    '',
    `Keywords matched: ${keywords.length > 0 ? keywords.join(', ') : job}.`,
  ].join('\n')
}

const STOP_WORDS = new Set(['looking', 'experience', 'working', 'strong', 'ability', 'including', 'across', 'within', 'should', 'others', 'about', 'their', 'years', 'skills', 'required'])

function chunk(id: string, created: number, fields: Record<string, unknown>): string {
  return `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: FAKE_MODEL_ID, system_fingerprint: 'fp_demo', ...fields })}\n\n`
}

async function readBody(request: IncomingMessage): Promise<string> {
  const parts: Buffer[] = []
  for await (const part of request) parts.push(part as Buffer)
  return Buffer.concat(parts).toString('utf8')
}

/**
 * An OpenAI-compatible chat completions endpoint on 127.0.0.1 (`POST /v1/chat/completions`), so the
 * demo runs the real `openai` client with no key and no network. It answers after
 * `firstTokenDelayMs`, streams word by word, and ends with a usage chunk when asked
 * (`stream_options.include_usage`), as OpenAI does.
 */
export async function startFakeModel(options: FakeModelOptions = {}): Promise<FakeModel> {
  const firstTokenDelayMs = options.firstTokenDelayMs ?? 700
  const tokenIntervalMs = options.tokenIntervalMs ?? 30
  // Each pending wait, so that close() ends the answers in flight instead of leaving them hanging.
  const waits = new Map<NodeJS.Timeout, () => void>()
  const wait = (ms: number, response: ServerResponse) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        waits.delete(timer)
        resolve(!response.destroyed)
      }, ms)
      waits.set(timer, () => resolve(false))
    })

  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
      response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Not found', type: 'invalid_request_error' } }))
      return
    }
    let body: ChatRequest
    try {
      body = JSON.parse(await readBody(request)) as ChatRequest
    } catch {
      response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Invalid JSON', type: 'invalid_request_error' } }))
      return
    }
    const prompt = (body.messages ?? []).map((message) => text(message.content)).join('\n\n')
    const output = tailoredResume(prompt)
    const usage = { prompt_tokens: tokens(prompt), completion_tokens: tokens(output), total_tokens: tokens(prompt) + tokens(output), prompt_tokens_details: { cached_tokens: 0 } }
    const id = `chatcmpl-demo${Date.now().toString(36)}`
    const created = Math.floor(Date.now() / 1000)
    if (!(await wait(firstTokenDelayMs, response))) return
    if (!body.stream) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ id, object: 'chat.completion', created, model: FAKE_MODEL_ID, choices: [{ index: 0, message: { role: 'assistant', content: output }, finish_reason: 'stop' }], usage }),
      )
      return
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    response.write(chunk(id, created, { choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }))
    for (const word of output.match(/\S+\s*/g) ?? []) {
      if (!(await wait(tokenIntervalMs, response))) return
      response.write(chunk(id, created, { choices: [{ index: 0, delta: { content: word }, finish_reason: null }] }))
    }
    response.write(chunk(id, created, { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }))
    if (body.stream_options?.include_usage) response.write(chunk(id, created, { choices: [], usage }))
    response.end('data: [DONE]\n\n')
  }

  const server = createServer((request, response) => {
    answer(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500).end()
      else response.destroy(error as Error)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', () => {})
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const [timer, stop] of waits) {
          clearTimeout(timer)
          stop()
        }
        waits.clear()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
