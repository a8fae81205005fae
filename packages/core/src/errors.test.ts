import { describe, expect, it } from 'vitest'
import { SinkError, StorageError, UserTrackingError, ValidationError } from './errors'

describe('errors', () => {
  it('are recognised by isInstance, class by class, also from another copy of the package', () => {
    const sink = new SinkError('http', 'HTTP 500')
    expect(UserTrackingError.isInstance(sink)).toBe(true)
    expect(SinkError.isInstance(sink)).toBe(true)
    expect(StorageError.isInstance(sink)).toBe(false)
    expect(ValidationError.isInstance(new ValidationError([{ path: ['a'], message: 'bad' }], {}))).toBe(true)
    expect(UserTrackingError.isInstance(new Error('plain'))).toBe(false)
    expect(UserTrackingError.isInstance(null)).toBe(false)
    expect(UserTrackingError.isInstance('SinkError')).toBe(false)
    // What an instance made by the CJS build (or another version) carries: the same Symbol.for keys.
    const foreign = Object.assign(new Error('[usertracking] [storage] x'), {
      [Symbol.for('usertracking.error.UserTrackingError')]: true,
      [Symbol.for('usertracking.error.StorageError')]: true,
    })
    expect(StorageError.isInstance(foreign)).toBe(true)
    expect(UserTrackingError.isInstance(foreign)).toBe(true)
    expect(SinkError.isInstance(foreign)).toBe(false)
    expect(sink).toMatchObject({ name: 'SinkError', sinkName: 'http', message: '[usertracking] [http] HTTP 500' })
  })
})
