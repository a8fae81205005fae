import { describe, expect, it } from 'vitest'
import { classifyError, firestoreCode, FirestoreStoreError } from './errors'

describe('Firestore errors', () => {
  it('reads the status of either SDK: numeric gRPC codes (firebase-admin) and names (web SDK)', () => {
    expect(firestoreCode({ code: 14 })).toBe('unavailable')
    expect(firestoreCode({ code: 'permission-denied' })).toBe('permission-denied')
    expect(firestoreCode({ code: 'firestore/aborted' })).toBe('aborted')
    expect(firestoreCode({ code: 'ECONNRESET' })).toBeUndefined()
    expect(firestoreCode(undefined)).toBeUndefined()
  })

  it('retries outages, splits batches on content errors, and skips stored documents', () => {
    for (const code of ['unavailable', 'deadline-exceeded', 'resource-exhausted', 'aborted', 'internal', 'unauthenticated', 'cancelled']) {
      expect(classifyError({ code }), code).toBe('retryable')
    }
    for (const code of ['invalid-argument', 'permission-denied', 'out-of-range']) expect(classifyError({ code }), code).toBe('document')
    expect(classifyError({ code: 6 })).toBe('exists')
    expect(classifyError({ code: 'not-found' })).toBe('permanent')
    expect(classifyError(new Error('socket hang up'))).toBe('retryable')
  })

  it('prefixes its messages and carries the status of its cause', () => {
    const error = new FirestoreStoreError('Writing failed.', { cause: { code: 14 } })
    expect(error.message).toBe('[usertracking] [firestore] Writing failed.')
    expect(error.code).toBe('unavailable')
    expect(error.name).toBe('FirestoreStoreError')
  })
})
