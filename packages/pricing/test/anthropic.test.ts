/**
 * withActivity around the real `@anthropic-ai/sdk` client, against the loopback fake provider:
 * plain and streamed messages give the same totals (cache reads and writes included), and a
 * `MessageStream` is recorded exactly once however the caller consumes it.
 */
import Anthropic, { APIPromise, BadRequestError, InternalServerError } from '@anthropic-ai/sdk'
import { withActivity } from '@usertracking/core'
import { beforeAll, describe, expect, it } from 'vitest'
import { TEXT_CHUNKS, USAGE } from './fake-provider'
import { fakeProviderSuite, type Recorder } from './recorder'

const suite = fakeProviderSuite()
let client: Anthropic

beforeAll(() => {
  client = new Anthropic({ apiKey: 'test', baseURL: suite.provider.url, maxRetries: 0 })
})

const model = 'claude-sonnet-4-20250514'
const request = { model, max_tokens: 100, messages: [{ role: 'user' as const, content: 'Hi' }] }
const scenario = (name: string) => ({ headers: { 'x-fake-scenario': name } })
const { input, cacheRead, cacheWrite, output } = USAGE.anthropic
// What the API bills: every input token (uncached, read from and written to the cache) and the output.
const tokens = { input: input + cacheRead + cacheWrite, output, total: input + cacheRead + cacheWrite + output, cacheRead, cacheWrite, model }

function wrapStream(recording: Recorder) {
  return withActivity(recording.tracker, { activityType: 'chat' }, (options?: { headers: Record<string, string> }) => client.messages.stream(request, options))
}

describe('withActivity around @anthropic-ai/sdk messages', () => {
  it('records a plain message with its cache tokens, and returns the SDK’s APIPromise', async () => {
    const recording = suite.recorder()
    const send = withActivity(recording.tracker, { activityType: 'chat' }, () => client.messages.create(request))
    const pending = send()
    expect(pending).toBeInstanceOf(APIPromise)
    const { data, request_id } = await pending.withResponse()
    expect(data.usage.output_tokens).toBe(output)
    expect(request_id).toBe('req_fake')
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: tokens })
  })

  it('gives a stream: true call the same totals as the plain call (message_delta does not leave them stale)', async () => {
    const recording = suite.recorder()
    const send = withActivity(recording.tracker, { activityType: 'chat' }, () => client.messages.create({ ...request, stream: true }))
    let text = ''
    for await (const event of await send()) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text
    }
    expect(text).toBe(TEXT_CHUNKS.join(''))
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: tokens })
  })

  it('records messages.stream() read through events and finalMessage(), once', async () => {
    const recording = suite.recorder()
    const stream = wrapStream(recording)()
    let text = ''
    stream.on('text', (delta) => (text += delta))
    const message = await stream.finalMessage()
    expect(message.usage.output_tokens).toBe(output)
    expect(text).toBe(TEXT_CHUNKS.join(''))
    const activities = await recording.settled()
    expect(activities).toHaveLength(1)
    expect(activities[0]).toMatchObject({ status: 'success', tokenUsage: tokens })
  })

  it('records messages.stream() awaited with done()', async () => {
    const recording = suite.recorder()
    const stream = wrapStream(recording)()
    await stream.done()
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: tokens })
  })

  it('records messages.stream() read with for await, once, timed until its end', async () => {
    const recording = suite.recorder()
    const startedAt = performance.now()
    const stream = wrapStream(recording)(scenario('hold'))
    const types: string[] = []
    for await (const event of stream) {
      types.push(event.type)
      if (event.type === 'content_block_delta' && types.filter((type) => type === 'content_block_delta').length === 2) {
        setTimeout(() => suite.provider.release(), 40)
      }
    }
    const elapsed = performance.now() - startedAt
    expect(types.at(-1)).toBe('message_stop')
    const activities = await recording.settled()
    expect(activities).toHaveLength(1)
    expect(activities[0]).toMatchObject({ status: 'success', tokenUsage: tokens })
    expect(activities[0]!.durationMs).toBeGreaterThanOrEqual(40)
    expect(activities[0]!.durationMs).toBeLessThanOrEqual(elapsed)
  })

  it('records messages.stream() read by events and for await at once, once', async () => {
    const recording = suite.recorder()
    const stream = wrapStream(recording)()
    let viaEvents = ''
    let viaIterator = ''
    stream.on('text', (delta) => (viaEvents += delta))
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') viaIterator += event.delta.text
    }
    await stream.done()
    expect([viaEvents, viaIterator]).toEqual([TEXT_CHUNKS.join(''), TEXT_CHUNKS.join('')])
    expect(await recording.settled()).toHaveLength(1)
  })

  it('records an error event mid-stream as an error, for the caller who listens for it', async () => {
    const recording = suite.recorder()
    const stream = wrapStream(recording)(scenario('error-mid-stream'))
    const seen: unknown[] = []
    stream.on('error', (error) => seen.push(error))
    await expect(stream.finalMessage()).rejects.toThrow('Overloaded')
    expect(seen).toHaveLength(1)
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'error', error: expect.stringContaining('Overloaded') })
    // The input and cache tokens of message_start were billed before the error.
    expect(activity!.tokenUsage).toMatchObject({ input: input + cacheRead + cacheWrite, cacheRead, cacheWrite })
  })

  it('records an error event in a stream: true call read with for await', async () => {
    const recording = suite.recorder()
    const send = withActivity(recording.tracker, { activityType: 'chat' }, () => client.messages.create({ ...request, stream: true }, scenario('error-mid-stream')))
    const read = async () => {
      for await (const event of await send()) void event
    }
    await expect(read()).rejects.toThrow('Overloaded')
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'error', error: expect.stringContaining('Overloaded') })
  })

  it('records a MessageStream the reader breaks out of as a success with the input tokens', async () => {
    const recording = suite.recorder()
    const stream = wrapStream(recording)()
    for await (const event of stream) {
      if (event.type === 'content_block_delta') break
    }
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: { input: input + cacheRead + cacheWrite, cacheRead, cacheWrite } })
  })

  it('records a stream: true call the reader aborts as a success', async () => {
    const recording = suite.recorder()
    const send = withActivity(recording.tracker, { activityType: 'chat' }, () => client.messages.create({ ...request, stream: true }))
    const events = await send()
    const read = async () => {
      for await (const event of events) {
        if (event.type === 'content_block_delta') events.controller.abort()
      }
    }
    await read().catch(() => {})
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'success', tokenUsage: { input: input + cacheRead + cacheWrite } })
  })

  it.each([
    ['400', 'fail-400', BadRequestError],
    ['500', 'fail-500', InternalServerError],
  ])('rethrows a %s as the SDK’s own error class and records the error', async (_, name, errorClass) => {
    const recording = suite.recorder()
    const send = withActivity(recording.tracker, { activityType: 'chat' }, () => client.messages.create(request, scenario(name)))
    const failure = await send().catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(errorClass)
    const [activity] = await recording.activities()
    expect(activity).toMatchObject({ status: 'error', error: (failure as Error).message })
  })
})
