import { describe, expect, expectTypeOf, it, vi } from 'vitest'
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
      // input counts cache reads and writes too, as OpenAI and the AI SDK count it.
      { input: 115, output: 6, cacheRead: 100, cacheWrite: 10, total: 121, model: 'claude' },
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

  it('keeps Anthropic cache figures that a later event reports as null, and totals the final counts', async () => {
    const tracker = recorder()
    async function* events() {
      yield {
        type: 'message_start',
        message: { model: 'claude', usage: { input_tokens: 20, cache_read_input_tokens: 10, cache_creation_input_tokens: 5, output_tokens: 1 } },
      }
      yield { type: 'message_delta', usage: { input_tokens: 20, cache_read_input_tokens: null, cache_creation_input_tokens: null, output_tokens: 15 } }
    }
    for await (const event of await withActivity(tracker, { activityType: 'chat' }, async () => events())()) void event
    expect(tracker.tracked[0]!.tokenUsage).toEqual({ input: 35, output: 15, total: 50, cacheRead: 10, cacheWrite: 5, model: 'claude' })
  })

  it('reads usage and model of an OpenAI Responses stream from response.completed', async () => {
    const tracker = recorder()
    async function* events() {
      yield { type: 'response.created', response: { model: 'gpt-5', usage: null } }
      yield { type: 'response.output_text.delta', delta: 'hi' }
      yield { type: 'response.completed', response: { model: 'gpt-5', usage: { input_tokens: 9, input_tokens_details: { cached_tokens: 3 }, output_tokens: 7, total_tokens: 16 } } }
    }
    for await (const event of withActivity(tracker, { activityType: 'respond' }, () => events())()) void event
    expect(tracker.tracked[0]!.tokenUsage).toEqual({ input: 9, output: 7, total: 16, cacheRead: 3, model: 'gpt-5' })
  })

  it('prefers the AI SDK’s totalUsage (all steps) over usage (the last step)', async () => {
    const tracker = recorder()
    const result = { usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }, totalUsage: { inputTokens: 5, outputTokens: 4, totalTokens: 9 }, response: { modelId: 'm' } }
    await withActivity(tracker, { activityType: 'generate' }, async () => result)()
    expect(tracker.tracked[0]!.tokenUsage).toEqual({ input: 5, output: 4, total: 9, model: 'm' })
  })

  it('measures duration on a monotonic clock, whatever the wall clock does meanwhile', async () => {
    const tracker = recorder()
    const wall = Date.now()
    const slow = withActivity(tracker, { activityType: 'slow' }, async () => {
      // The wall clock steps back an hour (an NTP correction) while the call runs.
      const now = vi.spyOn(Date, 'now').mockReturnValue(wall - 3_600_000)
      await sleep(20)
      now.mockRestore()
    })
    const startedAt = performance.now()
    await slow()
    const elapsed = performance.now() - startedAt
    expect(tracker.tracked[0]!.durationMs).toBeGreaterThanOrEqual(15)
    expect(tracker.tracked[0]!.durationMs).toBeLessThanOrEqual(elapsed)
  })

  it('reads a result’s usage getter once, and leaves a usage promise with a rejection handler', async () => {
    const tracker = recorder()
    let reads = 0
    const failing = Promise.reject(new Error('stream failed'))
    const result = {
      get usage() {
        reads++
        return failing
      },
    }
    const returned = withActivity(tracker, { activityType: 'lazy' }, () => result)()
    expect(returned).toBe(result)
    // The wrapper's handler was attached first, so it has run once the test's own one has.
    await expect(failing).rejects.toThrow('stream failed')
    expect(reads).toBe(1)
    expect(tracker.tracked[0]).toMatchObject({ status: 'error', error: 'stream failed' })
  })

  it('returns a custom thenable itself, running it only when the caller awaits it, once', async () => {
    const tracker = recorder()
    let runs = 0
    const query = {
      where: () => query,
      then(resolve: (rows: number[]) => unknown, reject?: (error: unknown) => unknown) {
        runs++
        return Promise.resolve([1, 2]).then(resolve, reject)
      },
    }
    const find = withActivity(tracker, { activityType: 'query' }, () => query)
    const returned = find()
    expect(returned.where).toBe(query.where)
    // A full event-loop turn: every microtask the wrapper could have queued has run.
    await new Promise((resolve) => setImmediate(resolve))
    expect(runs).toBe(0)
    expect(tracker.tracked).toHaveLength(0)
    expect(await returned).toEqual([1, 2])
    expect(runs).toBe(1)
    expect(tracker.tracked[0]).toMatchObject({ activityType: 'query', status: 'success' })
  })

  it('lets usage set through the scope win over the usage found on the result', async () => {
    const tracker = recorder()
    const call = withActivity(tracker, { activityType: 'llm' }, async (scope: ActivityScope) => {
      scope.setTokenUsage({ input: 1, output: 2, model: 'own' })
      return { model: 'gpt-4o', usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 } }
    })
    await call()
    expect(tracker.tracked[0]!.tokenUsage).toEqual({ input: 1, output: 2, total: 3, model: 'own' })
  })

  it('returns a result that throws when looked at, unharmed, and records the call', () => {
    const tracker = recorder()
    const revoked = Proxy.revocable({}, {})
    revoked.revoke()
    expect(withActivity(tracker, { activityType: 'odd' }, () => revoked.proxy)()).toBe(revoked.proxy)
    expect(tracker.tracked.map((activity) => activity.status)).toEqual(['success'])
  })

  it('observes a frozen custom thenable through a promise of it', async () => {
    const tracker = recorder()
    const frozen = Object.freeze({ then: (resolve: (value: number) => void) => resolve(5) })
    await expect(withActivity(tracker, { activityType: 'frozen' }, () => frozen)()).resolves.toBe(5)
    expect(tracker.tracked[0]).toMatchObject({ activityType: 'frozen', status: 'success' })
  })

  it('times a frozen stream through a wrapping iterable', async () => {
    const tracker = recorder()
    const frozen = Object.freeze({
      async *[Symbol.asyncIterator]() {
        yield { model: 'm', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }
      },
    })
    for await (const chunk of withActivity(tracker, { activityType: 'frozen' }, () => frozen)()) void chunk
    expect(tracker.tracked[0]).toMatchObject({ status: 'success', tokenUsage: { total: 2, model: 'm' } })
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

  it('names the recorded activity in activityId, also when read only after recording', async () => {
    const tracker = recorder()
    let kept: ActivityScope | undefined
    await withActivity(tracker, { activityType: 'later' }, async (scope: ActivityScope) => {
      kept = scope
    })()
    expect(kept!.activityId).toBe(tracker.tracked[0]!.id)
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
