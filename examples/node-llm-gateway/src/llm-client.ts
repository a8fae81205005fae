/**
 * The gateway's LLM calls, each measured by `withActivity` as one `chat_completion` activity. The
 * user and session are not passed in: they come from the request context, so a call deep inside a
 * handler is attributed correctly without threading ids through every function.
 */
import { withActivity, type Tracker } from '@usertracking/core'

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

interface ChatCompletion {
  model: string
  choices: { message: ChatMessage }[]
}

interface ChatChunk {
  model: string
  choices: { delta: { content?: string } }[]
}

async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ChatChunk> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffered = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    buffered += decoder.decode(value, { stream: true })
    let end: number
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const data = buffered.slice(0, end).replace(/^data: /, '')
      buffered = buffered.slice(end + 2)
      if (data === '[DONE]') return
      yield JSON.parse(data) as ChatChunk
    }
  }
}

export function createLlmClient(tracker: Pick<Tracker, 'track'>, baseUrl: string, model: string) {
  const post = async (messages: ChatMessage[], stream: boolean) => {
    const response = await fetch(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) }),
    })
    if (!response.ok) throw new Error(`The model endpoint answered ${response.status}.`)
    return response
  }
  const metadata = (stream: boolean) => (messages: ChatMessage[]) => ({ model, stream, messages: messages.length })

  return {
    /** One completion as JSON; its `usage` is read by withActivity. */
    complete: withActivity(tracker, { activityType: 'chat_completion', metadata: metadata(false) }, async (messages: ChatMessage[]) => {
      return (await (await post(messages, false)).json()) as ChatCompletion
    }),
    /** A streamed completion; timed until the stream ends, usage taken from its last chunk. */
    stream: withActivity(tracker, { activityType: 'chat_completion', metadata: metadata(true) }, async (messages: ChatMessage[]) => {
      return serverSentEvents((await post(messages, true)).body!)
    }),
  }
}
