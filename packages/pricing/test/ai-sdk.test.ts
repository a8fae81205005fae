/**
 * withActivity around the real Vercel AI SDK (`ai` 6): `generateText` / `streamText` with the
 * library's own mock model, and through the OpenAI and Anthropic providers pointed at the loopback
 * fake provider.
 */
import { createAnthropic } from '@ai-sdk/anthropic'
import { createOpenAI } from '@ai-sdk/openai'
import type { LanguageModelV3StreamPart, LanguageModelV3Usage } from '@ai-sdk/provider'
import { withActivity } from '@usertracking/core'
import { APICallError, generateText, streamText } from 'ai'
import { MockLanguageModelV3, simulateReadableStream } from 'ai/test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { TEXT_CHUNKS, USAGE } from './fake-provider'
import { fakeProviderSuite } from './recorder'

const suite = fakeProviderSuite()


const mockUsage: LanguageModelV3Usage = {
  inputTokens: { total: 10, noCache: 6, cacheRead: 4, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
}
const mockTokens = { input: 10, output: 5, total: 15, cacheRead: 4, model: 'mock-model-id' }

function streamParts(options: { fail?: boolean } = {}): LanguageModelV3StreamPart[] {
  const parts: LanguageModelV3StreamPart[] = [
    { type: 'stream-start', warnings: [] },
    { type: 'response-metadata', id: 'resp-1', modelId: 'mock-model-id', timestamp: new Date(0) },
    { type: 'text-start', id: 't1' },
    ...TEXT_CHUNKS.map((delta): LanguageModelV3StreamPart => ({ type: 'text-delta', id: 't1', delta })),
  ]
  if (options.fail) return [...parts, { type: 'error', error: new Error('provider went away') }]
  return [...parts, { type: 'text-end', id: 't1' }, { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: mockUsage }]
}

function mockModel(options: { fail?: boolean; pulls?: { count: number } } = {}) {
  return new MockLanguageModelV3({
    doGenerate: async () => ({
      content: [{ type: 'text', text: TEXT_CHUNKS.join('') }],
      finishReason: { unified: 'stop', raw: 'stop' },
      usage: mockUsage,
      warnings: [],
      response: { id: 'resp-1', modelId: 'mock-model-id', timestamp: new Date(0) },
    }),
    doStream: async () => {
      if (!options.pulls) return { stream: simulateReadableStream({ chunks: streamParts(options), chunkDelayInMs: null }) }
      const parts = streamParts(options)
      const pulls = options.pulls
      return {
        stream: new ReadableStream<LanguageModelV3StreamPart>({
          pull(controller) {
            pulls.count++
            const part = parts.shift()
            if (part) controller.enqueue(part)
            else controller.close()
          },
        }),
      }
    },
  })
}

describe('withActivity around the AI SDK with its mock model', () => {
  it('records generateText usage (all steps) and the model', async () => {
    const recording = suite.recorder()
    const generate = withActivity(recording.tracker, { activityType: 'generate' }, (prompt: string) => generateText({ model: mockModel(), prompt }))
    const result = await generate('Hi')
    expect(result.text).toBe(TEXT_CHUNKS.join(''))
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: mockTokens })
  })

  it('records streamText usage and the model from the response metadata, once the caller read the stream', async () => {
    const recording = suite.recorder()
    const call = (prompt: string) => streamText({ model: mockModel(), prompt })
    const stream = withActivity(recording.tracker, { activityType: 'stream' }, call)
    expectTypeOf(stream).toEqualTypeOf<typeof call>()
    const result = stream('Hi')
    let text = ''
    for await (const delta of result.textStream) text += delta
    expect(text).toBe(TEXT_CHUNKS.join(''))
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: mockTokens })
  })

  it('records a streamText provider error as an error without an unhandled rejection', async () => {
    const recording = suite.recorder()
    const stream = withActivity(recording.tracker, { activityType: 'stream' }, () => streamText({ model: mockModel({ fail: true }), prompt: 'Hi', onError: () => {} }))
    const result = stream()
    let text = ''
    for await (const delta of result.textStream) text += delta
    expect(text).toBe(TEXT_CHUNKS.join(''))
    const [activity] = await recording.activities()
    expect(activity!.status).toBe('error')
    // vitest fails the run on an unhandled rejection; the child-process test proves it for a bare Node process.
  })

  it('records a streamText the caller aborts as a success (abandoned, not failed)', async () => {
    const recording = suite.recorder()
    const controller = new AbortController()
    const result = withActivity(recording.tracker, { activityType: 'stream' }, () =>
      streamText({ model: mockModel(), prompt: 'Hi', abortSignal: controller.signal }),
    )()
    for await (const delta of result.textStream) {
      if (delta) controller.abort()
    }
    const [activity] = await recording.activities()
    expect(activity!.status).toBe('success')
  })

  it('starts no work the caller did not ask for: an unread streamText result is pulled no further than without the wrapper', async () => {
    const recording = suite.recorder()
    const bare = { count: 0 }
    const wrappedPulls = { count: 0 }
    streamText({ model: mockModel({ pulls: bare }), prompt: 'Hi' })
    const result = withActivity(recording.tracker, { activityType: 'stream' }, () => streamText({ model: mockModel({ pulls: wrappedPulls }), prompt: 'Hi' }))()
    for (let turn = 0; turn < 5; turn++) await nextTurn()
    expect(bare.count).toBeGreaterThan(0)
    expect(wrappedPulls.count).toBe(bare.count)
    // Reading it afterwards still records it.
    await result.consumeStream()
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: mockTokens })
  })
})

describe('withActivity around the AI SDK providers, on the fake provider', () => {
  const openai = () => createOpenAI({ apiKey: 'test', baseURL: `${suite.provider.url}/v1` })
  const anthropic = () => createAnthropic({ apiKey: 'test', baseURL: `${suite.provider.url}/v1` })
  const chatTokens = { input: USAGE.chat.prompt, output: USAGE.chat.completion, total: USAGE.chat.total, cacheRead: USAGE.chat.cached, model: 'gpt-4o' }
  const { input, cacheRead, cacheWrite, output } = USAGE.anthropic
  const anthropicTokens = { input: input + cacheRead + cacheWrite, output, total: input + cacheRead + cacheWrite + output, cacheRead, cacheWrite }

  it('records generateText through the OpenAI chat provider', async () => {
    const recording = suite.recorder()
    const generate = withActivity(recording.tracker, { activityType: 'generate' }, () => generateText({ model: openai().chat('gpt-4o'), prompt: 'Hi', maxRetries: 0 }))
    expect((await generate()).text).toBe(TEXT_CHUNKS.join(''))
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: chatTokens })
  })

  it('records streamText through the OpenAI chat provider (it asks for the usage chunk)', async () => {
    const recording = suite.recorder()
    const result = withActivity(recording.tracker, { activityType: 'stream' }, () => streamText({ model: openai().chat('gpt-4o'), prompt: 'Hi', maxRetries: 0 }))()
    expect(await result.text).toBe(TEXT_CHUNKS.join(''))
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: chatTokens })
  })

  it('records streamText through the OpenAI responses provider', async () => {
    const recording = suite.recorder()
    const result = withActivity(recording.tracker, { activityType: 'stream' }, () => streamText({ model: openai().responses('gpt-4o'), prompt: 'Hi', maxRetries: 0 }))()
    expect(await result.text).toBe(TEXT_CHUNKS.join(''))
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({
      status: 'success',
      tokenUsage: { input: USAGE.responses.input, output: USAGE.responses.output, total: USAGE.responses.total, cacheRead: USAGE.responses.cached, model: 'gpt-4o' },
    })
  })

  it('gives streamText through the Anthropic provider the same totals as the Anthropic SDK, cache tokens included', async () => {
    const recording = suite.recorder()
    const result = withActivity(recording.tracker, { activityType: 'stream' }, () =>
      streamText({ model: anthropic()('claude-sonnet-4-20250514'), prompt: 'Hi', maxRetries: 0 }),
    )()
    expect(await result.text).toBe(TEXT_CHUNKS.join(''))
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: { ...anthropicTokens, model: 'claude-sonnet-4-20250514' } })
  })

  it('rethrows a generateText 400 as the AI SDK’s APICallError and records the error', async () => {
    const recording = suite.recorder()
    const generate = withActivity(recording.tracker, { activityType: 'generate' }, () =>
      generateText({ model: openai().chat('gpt-4o'), prompt: 'Hi', maxRetries: 0, headers: { 'x-fake-scenario': 'fail-400' } }),
    )
    const failure = await generate().catch((error: unknown) => error)
    expect(APICallError.isInstance(failure)).toBe(true)
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'error', error: (failure as Error).message })
  })

  it('records a streamText 500 as an error while the caller reads an empty stream', async () => {
    const recording = suite.recorder()
    const errors: unknown[] = []
    const result = withActivity(recording.tracker, { activityType: 'stream' }, () =>
      streamText({
        model: anthropic()('claude-sonnet-4-20250514'),
        prompt: 'Hi',
        maxRetries: 0,
        headers: { 'x-fake-scenario': 'fail-500' },
        onError: ({ error }) => {
          errors.push(error)
        },
      }),
    )()
    let text = ''
    for await (const delta of result.textStream) text += delta
    expect(text).toBe('')
    expect(APICallError.isInstance(errors[0])).toBe(true)
    const [activity] = await recording.activities()
    expect(activity!.status).toBe('error')
  })
})
