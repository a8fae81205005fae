import { describe, expect, it } from 'vitest'
import { normalizeCanonicalActivity } from './normalize-canonical'
import { isUuid } from './uuid'

const paths = (result: ReturnType<typeof normalizeCanonicalActivity>) => (result.ok ? [] : result.issues.map((issue) => issue.path.join('.')))

describe('normalizeCanonicalActivity', () => {
  it('reads what a page builds, sets id and timestamp from the clock, and counts the JSON bytes', () => {
    const result = normalizeCanonicalActivity(
      { activityType: ' page_visit ', sessionId: 7, durationMs: 1200, context: { page: '/' }, metadata: '{"path":"/"}' },
      { now: () => Date.UTC(2026, 0, 2) },
    )
    expect(result.ok && result.activity).toMatchObject({
      activityType: 'page_visit',
      sessionId: '7',
      durationMs: 1200,
      timestamp: '2026-01-02T00:00:00.000Z',
      context: { page: '/' },
      metadata: { path: '/' },
    })
    expect(result.ok && isUuid(result.activity.id)).toBe(true)
    expect(result.ok && result.bytes).toBe(160 + 'page_visit'.length + '{"page":"/"}'.length + '{"path":"/"}'.length)
  })

  it('refuses, naming each field: a metadata over maxMetadataBytes, a context given as text, a missing type', () => {
    expect(paths(normalizeCanonicalActivity({ activityType: 'a', metadata: { text: 'x'.repeat(100) } }, { maxMetadataBytes: 50 }))).toEqual(['metadata'])
    expect(paths(normalizeCanonicalActivity({ activityType: 'a', context: '{"page":"/"}' }))).toEqual(['context'])
    expect(paths(normalizeCanonicalActivity({ userId: '' }))).toEqual(['activityType'])
    expect(paths(normalizeCanonicalActivity([]))).toEqual([''])
  })
})
