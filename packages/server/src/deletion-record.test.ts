import { createHash, createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { deletionHash, deletionRecord } from './deletion-record'

describe('deletionHash', () => {
  it('is SHA-256 of the kind and id under a fixed prefix, or HMAC-SHA-256 under the key', async () => {
    expect(await deletionHash({ userId: '6' })).toBe(`sha256:${createHash('sha256').update('usertracking:data_deletion:user:6').digest('hex')}`)
    expect(await deletionHash({ anonymousId: 'a1' }, 'k'.repeat(16))).toBe(`hmac-sha256:${createHmac('sha256', 'k'.repeat(16)).update('anonymous:a1').digest('hex')}`)
  })

  it('never hashes a user and an anonymous visitor of the same id alike', async () => {
    expect(await deletionHash({ userId: 'x' })).not.toBe(await deletionHash({ anonymousId: 'x' }))
  })
})

describe('deletionRecord', () => {
  it('is an activity that names no one, saying what was deleted, by whom and when', async () => {
    const at = Date.UTC(2025, 6, 6, 10, 5)
    const record = await deletionRecord({ anonymousId: 'visitor-9' }, 'admin-1', 12, undefined, at)
    expect(record).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      activityType: 'data_deletion',
      timestamp: '2025-07-06T10:05:00.000Z',
      receivedAt: '2025-07-06T10:05:00.000Z',
      metadata: { subject: 'anonymous', subjectHash: await deletionHash({ anonymousId: 'visitor-9' }), requestedBy: 'admin', requesterHash: await deletionHash({ userId: 'admin-1' }), deleted: 12 },
    })
    expect(JSON.stringify(record)).not.toMatch(/visitor-9|admin-1/)
  })
})
