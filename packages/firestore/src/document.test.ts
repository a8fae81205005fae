import { describe, expect, it } from 'vitest'
import type { Activity } from '@usertracking/core'
import { fromDocument, toDocument } from './document'
import { ownerId } from './layout'

/** What the SDKs hand back for a Date they stored. */
function asStored(document: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(document), (_key, value: unknown) =>
    typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value) ? { toMillis: () => Date.parse(value) } : value,
  ) as Record<string, unknown>
}

describe('the document of an activity', () => {
  it('escapes the JSON Firestore refuses and reads it back unchanged', () => {
    const activity: Activity = {
      id: '0190b4c2-0000-7000-8000-000000000000',
      activityType: 'job_match',
      timestamp: '2025-07-06T10:05:00.000Z',
      metadata: { '': 1, __name__: 2, '\uFDD0x': 3, grid: [[1, [2]], []], ['__proto__']: { polluted: true }, keep: { 'a.b': null } },
      context: { page: '/jobs', __x__: 'y' },
    }
    const document = toDocument(activity, new Date(0))
    expect(Object.keys(document.metadata as object).sort()).toEqual(['grid', 'keep', '\uFDD0', '\uFDD0\uFDD0x', '\uFDD0__name__', '\uFDD0__proto__'].sort())
    expect(document).toMatchObject({ durationMs: null, totalTokens: null, receivedAt: new Date(0), timestamp: new Date(activity.timestamp) })
    const back = fromDocument(asStored(document))
    expect(back).toEqual({ ...activity, receivedAt: '1970-01-01T00:00:00.000Z' })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('puts each owner in its own document, whatever the id', () => {
    const owners = [
      { userId: 'abc123' },
      { userId: 'team/alice' },
      { userId: '%uteam%2Falice' },
      { userId: '__x__' },
      { userId: '.' },
      { userId: '' },
      { anonymousId: 'abc123' },
      { anonymousId: 'team/alice' },
      {},
    ]
    const ids = owners.map(ownerId)
    expect(ids[0]).toBe('abc123')
    expect(new Set(ids).size).toBe(owners.length)
    for (const id of ids) expect(id).not.toMatch(/\/|^__.*__$|^\.\.?$|^$/)
  })
})
