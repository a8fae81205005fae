import { describe, expect, it } from 'vitest'
import { httpStatusToResult } from './http-result'

describe('httpStatusToResult', () => {
  it.each([
    [200, 'success'],
    [201, 'success'],
    [204, 'success'],
    [400, 'failure'],
    [401, 'failure'],
    [404, 'failure'],
    [408, 'retryable'],
    [413, 'too_large'],
    [429, 'retryable'],
    [500, 'retryable'],
    [503, 'retryable'],
  ])('%i → %s', (status, type) => {
    expect(httpStatusToResult(status, null).type).toBe(type)
  })

  it('honours Retry-After on retryable statuses', () => {
    expect(httpStatusToResult(429, '7')).toMatchObject({ type: 'retryable', retryInMs: 7000 })
    expect(httpStatusToResult(503, null)).not.toHaveProperty('retryInMs')
  })

  it('lets a status be overridden', () => {
    expect(httpStatusToResult(404, null, { 404: 'retryable' }).type).toBe('retryable')
    expect(httpStatusToResult(500, null, { 500: 'failure' }).type).toBe('failure')
  })
})
