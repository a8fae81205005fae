import { describe, expect, expectTypeOf, it } from 'vitest'
import type { Activity, ActivityInput } from './activity'
import { normalizeActivity } from './normalize'
import { withActivity, type ActivityScope } from './with-activity'

/** A tracker stand-in that normalises like the real one and keeps what it was given. */
function recorder() {
  const tracked: Activity[] = []
  return {
    tracked,
    track(input: ActivityInput) {
      const result = normalizeActivity(input)
      if (!result.ok) throw new Error(JSON.stringify(result.issues))
      tracked.push(result.activity)
      return result.activity.id
    },
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('withActivity', () => {
  it('keeps a sync function sync and records its duration and success', () => {
    const tracker = recorder()
    const add = withActivity(tracker, { activityType: 'add' }, (a: number, b: number) => a + b)
    const result = add(2, 3)
    expect(result).toBe(5)
    expect(tracker.tracked).toHaveLength(1)
    expect(tracker.tracked[0]).toMatchObject({ activityType: 'add', status: 'success' })
    expect(tracker.tracked[0]!.durationMs).toBeGreaterThanOrEqual(0)
  })

  it('resolves exactly when the async function does, with the measured duration and OpenAI usage', async () => {
    const tracker = recorder()
    const complete = withActivity(
      tracker,
      { activityType: 'chat_completion', userId: (request: { user: string }) => request.user },
      async (request: { user: string }) => {
        await sleep(30)
        return { model: 'gpt-4o', usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 }, user: request.user }
      },
    )
    const result = await complete({ user: 'alice' })
    expect(result.user).toBe('alice')
    const [activity] = tracker.tracked
    expect(activity).toMatchObject({
      activityType: 'chat_completion',
      userId: 'alice',
      status: 'success',
      tokenUsage: { input: 12, output: 30, total: 42, model: 'gpt-4o' },
    })
    expect(activity!.durationMs).toBeGreaterThanOrEqual(25)
    expect(Date.parse(activity!.endTime!) - Date.parse(activity!.timestamp)).toBeCloseTo(activity!.durationMs!, -1)
  })

  it.each([
    ['OpenAI responses', { model: 'gpt-5', usage: { input_tokens: 5, output_tokens: 6, total_tokens: 11 } }, { input: 5, output: 6, total: 11, model: 'gpt-5' }],
    [
      'Anthropic with cache tokens',
      { model: 'claude', usage: { input_tokens: 5, output_tokens: 6, cache_read_input_tokens: 100, cache_creation_input_tokens: 10 } },
      { input: 5, output: 6, cacheRead: 100, cacheWrite: 10, total: 121, model: 'claude' },
    ],
    ['Vercel AI SDK', { usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 }, response: { modelId: 'm' } }, { input: 1, output: 2, total: 3, model: 'm' }],
  ])('reads %s usage', async (_, result, expected) => {
    const tracker = recorder()
    await withActivity(tracker, { activityType: 'llm' }, async () => result)()
    expect(tracker.tracked[0]!.tokenUsage).toEqual(expected)
  })

  it('rethrows the original error unchanged and records it', async () => {
    const tracker = recorder()
    const failure = new RangeError('quota')
    const failing = withActivity(tracker, { activityType: 'job_match' }, async () => {
      throw failure
    })
    await expect(failing()).rejects.toBe(failure)
    const syncFailing = withActivity(tracker, { activityType: 'sync' }, () => {
      throw failure
    })
    expect(() => syncFailing()).toThrow(failure)
    expect(tracker.tracked.map((activity) => [activity.status, activity.error])).toEqual([
      ['error', 'quota'],
      ['error', 'quota'],
    ])
  })

  it('times a stream until it ends and takes usage from its chunks', async () => {
    const tracker = recorder()
    async function* chunks() {
      yield { choices: [{ delta: { content: 'Hel' } }], usage: null }
      await sleep(30)
      yield { choices: [{ delta: { content: 'lo' } }], usage: null }
      yield { choices: [], model: 'gpt-4o', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }
    }
    const stream = withActivity(tracker, { activityType: 'chat_completion' }, async () => chunks())
    const iterable = await stream()
    expect(tracker.tracked).toHaveLength(0)
    let text = ''
    for await (const chunk of iterable) text += chunk.choices[0]?.delta.content ?? ''
    expect(text).toBe('Hello')
    expect(tracker.tracked[0]).toMatchObject({ status: 'success', tokenUsage: { input: 3, output: 2, total: 5, model: 'gpt-4o' } })
    expect(tracker.tracked[0]!.durationMs).toBeGreaterThanOrEqual(25)
  })

  it('merges Anthropic stream events: input tokens from message_start, output from message_delta', async () => {
    const tracker = recorder()
    async function* events() {
      yield { type: 'message_start', message: { model: 'claude', usage: { input_tokens: 20, output_tokens: 1 } } }
      yield { type: 'content_block_delta', delta: { text: 'hi' } }
      yield { type: 'message_delta', usage: { output_tokens: 15 } }
    }
    const iterable = await withActivity(tracker, { activityType: 'chat' }, async () => events())()
    for await (const event of iterable) void event
    expect(tracker.tracked[0]!.tokenUsage).toEqual({ input: 20, output: 15, total: 35, model: 'claude' })
  })

  it('records a stream abandoned by break, and an erroring stream', async () => {
    const tracker = recorder()
    async function* endless() {
      for (let index = 0; ; index++) yield index
    }
    for await (const value of await withActivity(tracker, { activityType: 'abandoned' }, async () => endless())()) {
      if (value === 3) break
    }
    async function* broken() {
      yield 1
      throw new Error('stream reset')
    }
    await expect(async () => {
      for await (const value of withActivity(tracker, { activityType: 'broken' }, () => broken())()) void value
    }).rejects.toThrow('stream reset')
    expect(tracker.tracked.map((activity) => [activity.activityType, activity.status])).toEqual([
      ['abandoned', 'success'],
      ['broken', 'error'],
    ])
  })

  it('lets the function set user, tokens and metadata through its scope argument', async () => {
    const tracker = recorder()
    const generate = withActivity(tracker, { activityType: 'resume_generation', metadata: { jobTitle: 'Data Engineer' } }, async (prompt: string, scope: ActivityScope) => {
      scope.setUserId(42)
      scope.addTokenUsage({ input: 10, output: 5 })
      scope.addTokenUsage({ output: 7 })
      scope.setMetadata({ promptLength: prompt.length })
      return scope.activityId
    })
    const id = await generate('write')
    expect(tracker.tracked[0]).toMatchObject({
      id,
      userId: '42',
      tokenUsage: { input: 10, output: 12, total: 22 },
      metadata: { jobTitle: 'Data Engineer', promptLength: 5 },
    })
  })

  it('passes the scope after optional parameters the caller left out', () => {
    const tracker = recorder()
    const greet = withActivity(tracker, { activityType: 'greet' }, (name: string, greeting: string | undefined, scope: ActivityScope) => {
      scope.setDescription('greeted')
      return `${greeting ?? 'Hello'}, ${name}`
    })
    expect(greet('Ada', undefined)).toBe('Hello, Ada')
    expect(tracker.tracked[0]!.description).toBe('greeted')
  })

  it('never lets a tracking failure reach the caller', async () => {
    const broken = {
      track(): string {
        throw new Error('tracker exploded')
      },
    }
    const wrapped = withActivity(broken, { activityType: () => { throw new Error('option exploded') } }, async () => 'ok')
    await expect(wrapped()).resolves.toBe('ok')
  })

  it('keeps the wrapped function’s parameter and return types', () => {
    const tracker = recorder()
    const sync = withActivity(tracker, { activityType: 'a' }, (a: number, b: string) => `${a}${b}`)
    expectTypeOf(sync).toEqualTypeOf<(a: number, b: string) => string>()
    const withScope = withActivity(tracker, { activityType: 'a' }, async (input: { id: number }, scope: ActivityScope) => {
      scope.setUserId(input.id)
      return input.id
    })
    expectTypeOf(withScope).parameters.toEqualTypeOf<[input: { id: number }]>()
    expectTypeOf(withScope).returns.toEqualTypeOf<Promise<number>>()
    const noArgs = withActivity(tracker, { activityType: 'a' }, () => 1)
    expectTypeOf(noArgs).toEqualTypeOf<() => number>()
    withActivity(tracker, { activityType: (input: { kind: string }) => input.kind }, (input: { kind: string }) => input)
    const loose = withActivity(tracker, { activityType: 'a' }, (input: unknown) => input)
    expectTypeOf(loose).parameters.toEqualTypeOf<[input: unknown]>()
  })
})
