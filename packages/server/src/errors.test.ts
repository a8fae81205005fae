import { UserTrackingError } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import { HttpError } from './errors'
import { startServer, type TestServer } from '../test/test-server'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe('HttpError', () => {
  it('is an Error with a stack, a cause and the package in its message', () => {
    const cause = new Error('no such session')
    const error = new HttpError(403, 'Banned.', { headers: { 'x-reason': 'ban' }, cause })
    expect(error).toBeInstanceOf(Error)
    expect(error).toBeInstanceOf(UserTrackingError)
    expect(error.name).toBe('HttpError')
    expect(error.message).toBe('[usertracking] [server] Banned.')
    expect(error.cause).toBe(cause)
    expect(error.stack).toContain('errors.test.ts')
  })

  it('is recognised across copies of the package by its marker, not by instanceof', () => {
    // What another copy's instance (the CJS build beside the ESM one, another version) looks like from here.
    const fromAnotherCopy = Object.assign(new Error('x'), { status: 400, [Symbol.for('usertracking.server.HttpError')]: true })
    expect(fromAnotherCopy instanceof HttpError).toBe(false)
    expect(HttpError.isInstance(fromAnotherCopy)).toBe(true)
    expect(HttpError.isInstance(new HttpError(400, 'x'))).toBe(true)
    expect(HttpError.isInstance(new Error('x'))).toBe(false)
    expect(HttpError.isInstance({ status: 400 })).toBe(false)
    expect(HttpError.isInstance(null)).toBe(false)
  })

  it('thrown by a hook, answers with its status, message and headers', async () => {
    server = await startServer({
      authenticate: () => {
        throw new HttpError(403, 'This account is suspended.', { headers: { 'x-suspended': 'true' } })
      },
    })
    const response = await fetch(`${server.url}/api/activities`)
    expect(response.status).toBe(403)
    expect(response.headers.get('x-suspended')).toBe('true')
    expect(await response.json()).toEqual({ error: '[usertracking] [server] This account is suspended.' })
  })
})
