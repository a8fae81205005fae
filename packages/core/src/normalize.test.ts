import { describe, expect, it } from 'vitest'
import { ACTIVITY_LIMITS, normalizeActivity, type NormalizeResult } from './normalize'
import { activitySchema, parseActivity } from './schema'
import { isUuid, uuidv7Time } from './uuid'

function ok(result: NormalizeResult) {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.issues)}`)
  return result.activity
}

function bytes(result: NormalizeResult) {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.issues)}`)
  return result.bytes
}

function issuePaths(result: NormalizeResult) {
  if (result.ok) throw new Error('expected issues')
  return result.issues.map((issue) => issue.path.join('.'))
}

describe('normalizeActivity: the five apps’ payloads', () => {
  it('reads a field from its canonical name first, then its aliases in their documented order, whatever the input order', () => {
    const activity = ok(
      normalizeActivity({
        event: 'e',
        type: 't',
        action: 'a',
        created_at: '2025-01-02T00:00:00Z',
        event_action_timestamp: '2025-01-01T00:00:00Z',
        user_id: 'snake',
        userId: 'camel',
        session_id: 's2',
        additional_data: { from: 'additional_data' },
        details: { from: 'details' },
        page: '/top',
        page_url: '/url',
      }),
    )
    expect(activity).toMatchObject({ activityType: 'a', timestamp: '2025-01-01T00:00:00.000Z', userId: 'camel', sessionId: 's2' })
    expect(activity.metadata).toEqual({ from: 'details' })
    expect(activity.context).toEqual({ page: '/url' })
  })

  it('reads fields an input inherits, such as getters of a class', () => {
    class Signup {
      get activityType() {
        return 'signup'
      }
      get user_id() {
        return 7
      }
    }
    expect(ok(normalizeActivity(new Signup()))).toMatchObject({ activityType: 'signup', userId: '7' })
  })

  it('accepts the AI app payload: seconds become milliseconds, a bare token number becomes { total }', () => {
    const activity = ok(
      normalizeActivity({
        userId: 'abc123',
        activityType: 'resume_generation',
        description: 'Tailored resume for Amazon job',
        timestamp: '2025-07-06T10:05:00Z',
        tokenUsage: 1420,
        timeTaken: 3.2,
        metadata: { jobTitle: 'Data Engineer', resumeLength: '2 pages' },
      }),
    )
    expect(activity).toMatchObject({
      userId: 'abc123',
      activityType: 'resume_generation',
      description: 'Tailored resume for Amazon job',
      timestamp: '2025-07-06T10:05:00.000Z',
      durationMs: 3200,
      tokenUsage: { total: 1420 },
      metadata: { jobTitle: 'Data Engineer', resumeLength: '2 pages' },
    })
    expect(isUuid(activity.id)).toBe(true)
  })

  it('accepts the event-log payload: numeric user_id, action and event_action_timestamp', () => {
    const activity = ok(
      normalizeActivity({
        user_id: 6,
        event_action_timestamp: '2025-10-10T18:30:00Z',
        action: 'deleted',
        metadata: { ip: '192.168.1.10', device: 'iPhone 14', location: 'Kyiv, Ukraine' },
      }),
    )
    expect(activity).toMatchObject({ userId: '6', activityType: 'deleted', timestamp: '2025-10-10T18:30:00.000Z' })
    expect(activity.metadata).toEqual({ ip: '192.168.1.10', device: 'iPhone 14', location: 'Kyiv, Ukraine' })
  })

  it('accepts the Flask site payload: action_type, element_id and additional_data as a JSON string', () => {
    const activity = ok(
      normalizeActivity({
        action_type: 'button_click',
        element_id: 'submit-btn',
        page: '/',
        user_identifier: 'anon-42',
        additional_data: '{"element_text": "Submit Form"}',
      }),
    )
    expect(activity).toMatchObject({
      activityType: 'button_click',
      anonymousId: 'anon-42',
      context: { element: 'submit-btn', page: '/' },
      metadata: { element_text: 'Submit Form' },
    })
  })

  it('accepts the LLM gateway payload: details and created_at', () => {
    const activity = ok(
      normalizeActivity({
        user_id: 21,
        action: 'chat_completion',
        details: { model: 'openai/gpt-4', tokens_used: 150, session_id: 42 },
        created_at: '2025-01-09T12:34:56Z',
      }),
    )
    expect(activity).toMatchObject({ userId: '21', activityType: 'chat_completion', timestamp: '2025-01-09T12:34:56.000Z' })
    expect(activity.metadata).toEqual({ model: 'openai/gpt-4', tokens_used: 150, session_id: 42 })
  })

  it('reads every provider shape of token usage and fills a missing total', () => {
    expect(ok(normalizeActivity({ activityType: 'a', tokenUsage: { prompt_tokens: 3, completion_tokens: 4 } })).tokenUsage).toEqual({
      input: 3,
      output: 4,
      total: 7,
    })
    expect(ok(normalizeActivity({ activityType: 'a', tokenUsage: { inputTokens: 1, outputTokens: 2, totalTokens: 9, model: 'm' } })).tokenUsage).toEqual({
      input: 1,
      output: 2,
      total: 9,
      model: 'm',
    })
  })

  it('fills id (a UUIDv7 of now) and timestamp when missing, and keeps a given id', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    const activity = ok(normalizeActivity({ activityType: 'a' }, { now: () => now }))
    expect(activity.timestamp).toBe('2026-01-01T00:00:00.000Z')
    expect(activity.id[14]).toBe('7')
    // Ids are ordered by creation (a clock that went back does not reorder them), not by the event time.
    expect(Math.abs(uuidv7Time(activity.id) - Date.now())).toBeLessThan(1000)
    const id = '0190a8f4-8a1e-7c3b-9f00-000000000001'
    expect(ok(normalizeActivity({ activityType: 'a', id: id.toUpperCase() })).id).toBe(id)
  })

  it('marks an activity with an error as failed and keeps the message', () => {
    const activity = ok(normalizeActivity({ activityType: 'a', error: new TypeError('boom') }))
    expect(activity).toMatchObject({ status: 'error', error: 'boom' })
  })
})

describe('normalizeActivity: garbage never throws and names the field', () => {
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  const cases: [string, unknown, string[]][] = [
    ['undefined', undefined, ['']],
    ['null', null, ['']],
    ['a string', 'click', ['']],
    ['an array', [{ activityType: 'a' }], ['']],
    ['no type', { userId: 'u' }, ['activityType']],
    ['an empty type', { activityType: '  ' }, ['activityType']],
    ['a numeric type', { action: 5 }, ['action']],
    ['cyclic metadata', { activityType: 'a', metadata: { nested: cyclic } }, ['metadata.nested.self']],
    ['BigInt metadata', { activityType: 'a', metadata: { n: 10n } }, ['metadata.n']],
    ['a function in metadata', { activityType: 'a', metadata: { list: [1, () => 1] } }, ['metadata.list.1']],
    ['a symbol in metadata', { activityType: 'a', metadata: { s: Symbol('x') } }, ['metadata.s']],
    ['NaN in metadata', { activityType: 'a', metadata: { n: Number.NaN } }, ['metadata.n']],
    ['a 5 MB string', { activityType: 'a', metadata: { blob: 'x'.repeat(5_000_000) } }, ['metadata']],
    ['a 5 MB description', { activityType: 'a', description: 'x'.repeat(5_000_000) }, ['description']],
    ['an array as metadata', { activityType: 'a', metadata: [1, 2] }, ['metadata']],
    ['metadata as a non-JSON string', { activityType: 'a', details: 'not json' }, ['details']],
    ['an invalid date', { activityType: 'a', timestamp: 'yesterday' }, ['timestamp']],
    ['a date out of range', { activityType: 'a', timestamp: 1e20 }, ['timestamp']],
    ['negative tokens', { activityType: 'a', tokenUsage: -1 }, ['tokenUsage']],
    ['a duration over a year', { activityType: 'a', durationMs: 1e308 }, ['durationMs']],
    ['seconds taken over a year', { activityType: 'a', timeTaken: 366 * 86_400 }, ['timeTaken']],
    ['a token count over 1e12', { activityType: 'a', tokenUsage: 1e308 }, ['tokenUsage']],
    ['input tokens over 1e12', { activityType: 'a', tokenUsage: { input: 2e12, output: 1 } }, ['tokenUsage.input']],
    ['cache tokens over 1e12', { activityType: 'a', tokenUsage: { total: 5, cache_read_input_tokens: 1e13 } }, ['tokenUsage.cache_read_input_tokens']],
    ['input and output adding up past 1e12', { activityType: 'a', tokenUsage: { input: 9e11, output: 9e11 } }, ['tokenUsage.total']],
    ['a bad id', { activityType: 'a', id: 'not-a-uuid' }, ['id']],
    ['an object user id', { activityType: 'a', userId: { id: 1 } }, ['userId']],
    ['a bad status', { activityType: 'a', status: 'ok' }, ['status']],
    ['deep nesting', { activityType: 'a', metadata: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) }, []],
  ]
  it.each(cases)('rejects %s', (_, input, paths) => {
    let result: NormalizeResult | undefined
    expect(() => (result = normalizeActivity(input))).not.toThrow()
    expect(result!.ok).toBe(false)
    const found = issuePaths(result!)
    for (const path of paths) expect(found).toContain(path)
  })

  it('accepts numbers right at their bounds', () => {
    const activity = ok(normalizeActivity({ activityType: 'a', durationMs: ACTIVITY_LIMITS.maxDurationMs, tokenUsage: { input: ACTIVITY_LIMITS.maxTokens, total: ACTIVITY_LIMITS.maxTokens } }))
    expect(activity.durationMs).toBe(ACTIVITY_LIMITS.maxDurationMs)
    expect(activitySchema.safeParse(activity).success).toBe(true)
    expect(activitySchema.safeParse({ ...activity, durationMs: 1e308 }).success).toBe(false)
  })

  it('respects a configured metadata size limit', () => {
    const input = { activityType: 'a', metadata: { text: 'é'.repeat(600) } }
    expect(normalizeActivity(input, { maxMetadataBytes: 1000 }).ok).toBe(false)
    expect(normalizeActivity(input, { maxMetadataBytes: 2000 }).ok).toBe(true)
  })

  it('copies metadata, so later changes by the caller do not alter what was tracked', () => {
    const metadata = { list: [1, 2], when: new Date('2025-01-01T00:00:00Z') }
    const activity = ok(normalizeActivity({ activityType: 'a', metadata }))
    metadata.list.push(3)
    expect(activity.metadata).toEqual({ list: [1, 2], when: '2025-01-01T00:00:00.000Z' })
  })

  it('copies flat metadata too: later changes do not reach it, undefined is left out, toJSON is honoured', () => {
    const metadata: Record<string, unknown> = { a: 1, b: 'two', c: null, d: true, e: undefined }
    const activity = ok(normalizeActivity({ activityType: 'a', metadata }))
    metadata.a = 99
    metadata.f = 'later'
    expect(activity.metadata).toStrictEqual({ a: 1, b: 'two', c: null, d: true })
    const withToJson = { a: 1, toJSON: () => ({ replaced: true }) }
    expect(ok(normalizeActivity({ activityType: 'a', metadata: withToJson })).metadata).toEqual({ replaced: true })
  })

  it('keeps the issues it returned when later calls reuse its working state', () => {
    const refused = normalizeActivity({ userId: 'u' })
    const refusedIssues = structuredClone(refused)
    normalizeActivity({ activityType: 'valid' })
    normalizeActivity({ activityType: 'a', metadata: 'not json' })
    normalizeActivity({ activityType: 'also valid', metadata: { n: 1 } })
    expect(refused).toEqual(refusedIssues)
  })

  it('normalises an activity a toJSON normalises while it runs, each with its own issues and size', () => {
    let inner: NormalizeResult | undefined
    let innerRefused: NormalizeResult | undefined
    const metadata = {
      nested: {
        toJSON() {
          inner = normalizeActivity({ activityType: 'inner', metadata: { text: 'x'.repeat(50) } })
          innerRefused = normalizeActivity({ activityType: 'inner', userId: { id: 1 } })
          return { done: true }
        },
      },
    }
    const outer = normalizeActivity({ activityType: 'outer', metadata })
    expect(ok(outer).metadata).toEqual({ nested: { done: true } })
    expect(ok(inner!).metadata).toEqual({ text: 'x'.repeat(50) })
    expect(issuePaths(innerRefused!)).toEqual(['userId'])
    // Each counts its own metadata, as it would alone: the inner one's is not in the outer one's size.
    expect(bytes(outer)).toBe(bytes(normalizeActivity({ activityType: 'outer', metadata: { nested: { done: true } } })))
    expect(bytes(inner!)).toBe(bytes(normalizeActivity({ activityType: 'inner', metadata: { text: 'x'.repeat(50) } })))
  })

  it('keeps a flat __proto__ key as data', () => {
    const activity = ok(normalizeActivity({ activityType: 'a', metadata: JSON.parse('{"__proto__": "x", "n": 1}') }))
    expect(Object.getPrototypeOf(activity.metadata)).toBe(Object.prototype)
    expect(JSON.stringify(activity.metadata)).toBe('{"__proto__":"x","n":1}')
  })

  it('keeps a __proto__ key as data instead of changing the prototype', () => {
    const metadata = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "x"}')
    const activity = ok(normalizeActivity({ activityType: 'a', metadata }))
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(activity.metadata)).toBe(Object.prototype)
    expect(JSON.parse(JSON.stringify(activity.metadata))).toEqual({ ['__proto__']: { polluted: true }, constructor: 'x' })
  })
})

describe('activitySchema agrees with normalizeActivity', () => {
  const inputs: unknown[] = [
    { activityType: 'a' },
    { action: 'deleted', user_id: 6, metadata: { nested: { deep: [1, 'two', null, true] } } },
    { activityType: 'a', tokenUsage: { input_tokens: 5, output_tokens: 7, cache_read_input_tokens: 2 } },
    { activityType: 'a', durationMs: 0, status: 'success', context: { page: '/x', custom: { a: 1 } } },
    { activityType: 'a', endTime: 0, receivedAt: new Date(), sessionId: 9 },
  ]
  it.each(inputs)('every normalised activity passes the zod schema: %j', (input) => {
    const normalized = normalizeActivity(input)
    expect(normalized.ok).toBe(true)
    if (normalized.ok) expect(activitySchema.safeParse(normalized.activity).success).toBe(true)
  })

  it('parseActivity reports normalisation issues as zod issues with paths', () => {
    const result = parseActivity({ action: 'x', metadata: { n: 1n } })
    expect(result.success).toBe(false)
    if (!result.success) expect(result.error.issues.map((issue) => issue.path)).toEqual([['metadata', 'n']])
  })
})
