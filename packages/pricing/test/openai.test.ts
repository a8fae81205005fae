/**
 * withActivity around the real `openai` client, against the loopback fake provider: what the caller
 * gets is the SDK's own object, and what is recorded matches what the API reported.
 */
import { withActivity } from '@usertracking/core'
import OpenAI, { APIPromise, BadRequestError, InternalServerError } from 'openai'
import type { ChatCompletion } from 'openai/resources/chat/completions'
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { TEXT_CHUNKS, USAGE } from './fake-provider'
import { fakeProviderSuite } from './recorder'

const suite = fakeProviderSuite()
let client: OpenAI

beforeAll(() => {
  client = new OpenAI({ apiKey: 'test', baseURL: `${suite.provider.url}/v1`, maxRetries: 0 })
})

const messages = [{ role: 'user' as const, content: 'Hi' }]
const scenario = (name: string) => ({ headers: { 'x-fake-scenario': name } })
const chatTokens = { input: USAGE.chat.prompt, output: USAGE.chat.completion, total: USAGE.chat.total, cacheRead: USAGE.chat.cached, model: 'gpt-4o' }
const responsesTokens = { input: USAGE.responses.input, output: USAGE.responses.output, total: USAGE.responses.total, cacheRead: USAGE.responses.cached, model: 'gpt-4o' }

describe('withActivity around openai chat completions', () => {
  it('returns the SDK’s APIPromise itself: .withResponse() works and the usage is recorded', async () => {
    const recording = suite.recorder()
    const complete = withActivity(recording.tracker, { activityType: 'chat_completion', userId: 'u1' }, (content: string) =>
      client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] }),
    )
    const pending = complete('Hi')
    expect(pending).toBeInstanceOf(APIPromise)
    expectTypeOf(pending).toEqualTypeOf<APIPromise<ChatCompletion>>()
    const { data, response, request_id } = await pending.withResponse()
    expect(data.choices[0]!.message.content).toBe(TEXT_CHUNKS.join(''))
    expect(response.status).toBe(200)
    expect(request_id).toBe('req_fake')
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ activityType: 'chat_completion', userId: 'u1', status: 'success', tokenUsage: chatTokens })
  })

  it('leaves the body unread for .asResponse(), and still records the call', async () => {
    const recording = suite.recorder()
    const complete = withActivity(recording.tracker, { activityType: 'chat_completion' }, () =>
      client.chat.completions.create({ model: 'gpt-4o', messages }),
    )
    const raw = await complete().asResponse()
    const body = (await raw.json()) as ChatCompletion
    expect(body.usage?.total_tokens).toBe(USAGE.chat.total)
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success' })
    expect(activity!.tokenUsage).toBeUndefined()
  })

  it('records the usage chunk of a stream with include_usage, timed until the stream ends', async () => {
    const recording = suite.recorder()
    const stream = withActivity(recording.tracker, { activityType: 'chat_stream' }, () =>
      client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } }, scenario('hold')),
    )
    const startedAt = performance.now()
    let text = ''
    let chunks = 0
    for await (const chunk of await stream()) {
      text += chunk.choices[0]?.delta.content ?? ''
      // The server holds the last text chunk until released: 40 ms after the second one.
      if (++chunks === 3) setTimeout(() => suite.provider.release(), 40)
    }
    const elapsed = performance.now() - startedAt
    expect(text).toBe(TEXT_CHUNKS.join(''))
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: chatTokens })
    expect(activity!.durationMs).toBeGreaterThanOrEqual(40)
    expect(activity!.durationMs).toBeLessThanOrEqual(elapsed)
  })

  it('records the model but no tokens for a stream without include_usage', async () => {
    const recording = suite.recorder()
    const stream = withActivity(recording.tracker, { activityType: 'chat_stream' }, () =>
      client.chat.completions.create({ model: 'gpt-4o', messages, stream: true }),
    )
    for await (const chunk of await stream()) void chunk
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', metadata: { model: 'gpt-4o' } })
    expect(activity!.tokenUsage).toBeUndefined()
  })

  it('records the stream helper consumed by events, once', async () => {
    const recording = suite.recorder()
    const streamChat = withActivity(recording.tracker, { activityType: 'chat_stream' }, () =>
      client.chat.completions.stream({ model: 'gpt-4o', messages, stream_options: { include_usage: true } }),
    )
    const stream = streamChat()
    let text = ''
    stream.on('content', (delta) => (text += delta))
    const completion = await stream.finalChatCompletion()
    expect(completion.usage?.total_tokens).toBe(USAGE.chat.total)
    expect(text).toBe(TEXT_CHUNKS.join(''))
    const activities = await recording.settled()
    expect(activities).toHaveLength(1)
    expect(activities[0]).toMatchObject({ status: 'success', tokenUsage: chatTokens })
  })

  it.each([
    ['400', 'fail-400', BadRequestError],
    ['500', 'fail-500', InternalServerError],
  ])('rethrows a %s as the SDK’s own error class and records the error', async (_, name, errorClass) => {
    const recording = suite.recorder()
    const complete = withActivity(recording.tracker, { activityType: 'chat_completion' }, () =>
      client.chat.completions.create({ model: 'gpt-4o', messages }, scenario(name)),
    )
    const failure = await complete().catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(errorClass)
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'error', error: (failure as Error).message })
  })

  it('records a stream that breaks off mid-way as an error, and rethrows to the reader', async () => {
    const recording = suite.recorder()
    const stream = withActivity(recording.tracker, { activityType: 'chat_stream' }, () =>
      client.chat.completions.create({ model: 'gpt-4o', messages, stream: true }, scenario('error-mid-stream')),
    )
    const read = async () => {
      for await (const chunk of await stream()) void chunk
    }
    await expect(read()).rejects.toThrow()
    const [activity] = await recording.activities()
    expect(activity!.status).toBe('error')
  })

  it('records a stream the reader abandons as a success, with the model seen so far', async () => {
    const recording = suite.recorder()
    const stream = withActivity(recording.tracker, { activityType: 'chat_stream' }, () =>
      client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } }),
    )
    for await (const chunk of await stream()) {
      if (chunk.choices[0]?.delta.content) break
    }
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', metadata: { model: 'gpt-4o' } })
  })
  it('records a stream the reader aborts as a success', async () => {
    const recording = suite.recorder()
    const stream = withActivity(recording.tracker, { activityType: 'chat_stream' }, () =>
      client.chat.completions.create({ model: 'gpt-4o', messages, stream: true }),
    )
    const chunks = await stream()
    let read = 0
    for await (const chunk of chunks) {
      read++
      if (chunk.choices[0]?.delta.content) chunks.controller.abort()
    }
    expect(read).toBeLessThan(TEXT_CHUNKS.length + 2)
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', metadata: { model: 'gpt-4o' } })
  })
})

describe('withActivity around openai responses', () => {
  it('records the usage of a plain response', async () => {
    const recording = suite.recorder()
    const respond = withActivity(recording.tracker, { activityType: 'response' }, () => client.responses.create({ model: 'gpt-4o', input: 'Hi' }))
    const response = await respond()
    expect(response.output_text).toBe(TEXT_CHUNKS.join(''))
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: responsesTokens })
  })

  it('records usage and model from response.completed of a streamed response', async () => {
    const recording = suite.recorder()
    const respond = withActivity(recording.tracker, { activityType: 'response' }, () =>
      client.responses.create({ model: 'gpt-4o', input: 'Hi', stream: true }),
    )
    const types: string[] = []
    for await (const event of await respond()) types.push(event.type)
    expect(types.at(-1)).toBe('response.completed')
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: responsesTokens })
  })

  it('records the responses stream helper consumed by events', async () => {
    const recording = suite.recorder()
    const respond = withActivity(recording.tracker, { activityType: 'response' }, () => client.responses.stream({ model: 'gpt-4o', input: 'Hi' }))
    const stream = respond()
    let text = ''
    stream.on('response.output_text.delta', (event) => (text += event.delta))
    const final = await stream.finalResponse()
    expect(final.usage?.total_tokens).toBe(USAGE.responses.total)
    expect(text).toBe(TEXT_CHUNKS.join(''))
    const activities = await recording.settled()
    expect(activities).toHaveLength(1)
    expect(activities[0]).toMatchObject({ status: 'success', tokenUsage: responsesTokens })
  })
})
