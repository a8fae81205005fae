import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { memorySink, withActivity } from '@usertracking/core'
import express from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import { contextMiddleware } from './context-middleware'
import { createNodeTracker } from './node-tracker'
import { currentContext, runWithContext, updateContext } from './request-context'

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))))
})

function tracker() {
  const sink = memorySink()
  const nodeTracker = createNodeTracker({ sinks: [sink], dir: false, shutdownHooks: false, debounceTime: 0 })
  return { sink, tracker: nodeTracker }
}

describe('runWithContext', () => {
  it('hands its fields to track() calls inside it, across awaits and timers, and not outside', async () => {
    const { sink, tracker: t } = tracker()
    await runWithContext({ userId: 'u1', sessionId: 's1', requestId: 'r1', context: { ip: '10.0.0.1' }, metadata: { plan: 'pro' } }, async () => {
      t.track({ activityType: 'first' })
      await new Promise((resolve) => setTimeout(resolve, 5))
      t.track({ activityType: 'second', metadata: { step: 2 } })
    })
    t.track({ activityType: 'outside' })
    await t.flush()
    const [first, second, outside] = sink.activities
    expect(first).toMatchObject({ userId: 'u1', sessionId: 's1', context: { ip: '10.0.0.1', requestId: 'r1' }, metadata: { plan: 'pro' } })
    expect(second).toMatchObject({ userId: 'u1', metadata: { plan: 'pro', step: 2 } })
    expect(outside!.userId).toBeUndefined()
    expect(outside!.context).toBeUndefined()
    await t.shutdown()
  })

  it('lets the call win over the context, inner contexts merge over outer ones, and updateContext change the rest of the request', async () => {
    const { sink, tracker: t } = tracker()
    expect(updateContext({ userId: 'nobody' })).toBe(false)
    runWithContext({ userId: 'outer', sessionId: 's1', context: { ip: '1.1.1.1' } }, () => {
      t.track({ activityType: 'own_user', userId: 'explicit' })
      runWithContext({ userId: 'inner', context: { page: '/chat' } }, () => {
        t.track({ activityType: 'nested' })
      })
      expect(updateContext({ userId: 'after_login' })).toBe(true)
      t.track({ activityType: 'after_login' })
      expect(currentContext()?.userId).toBe('after_login')
    })
    await t.flush()
    expect(sink.activities.map((item) => [item.activityType, item.userId, item.sessionId])).toEqual([
      ['own_user', 'explicit', 's1'],
      ['nested', 'inner', 's1'],
      ['after_login', 'after_login', 's1'],
    ])
    expect(sink.activities[1]!.context).toEqual({ ip: '1.1.1.1', page: '/chat' })
    await t.shutdown()
  })

  it('gives withActivity inside it the user and session', async () => {
    const { sink, tracker: t } = tracker()
    const generate = withActivity(t, { activityType: 'resume_generation' }, async (title: string) => ({ title, usage: { prompt_tokens: 3, completion_tokens: 4 } }))
    await runWithContext({ userId: 'abc123', sessionId: 'chat-9' }, () => generate('Data Engineer'))
    await t.flush()
    expect(sink.activities[0]).toMatchObject({
      activityType: 'resume_generation',
      userId: 'abc123',
      sessionId: 'chat-9',
      tokenUsage: { input: 3, output: 4, total: 7 },
      status: 'success',
    })
    await t.shutdown()
  })
})

describe('contextMiddleware', () => {
  async function serve(middleware: ReturnType<typeof contextMiddleware>, handle: () => void): Promise<string> {
    const server = createServer((request, response) =>
      middleware(request, response, () => {
        handle()
        // Activities tracked after an await still belong to this request.
        setTimeout(() => response.end('ok'), 1)
      }),
    )
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  }

  it('gives each node:http request its own request id, ip and user agent', async () => {
    const { sink, tracker: t } = tracker()
    const url = await serve(contextMiddleware(), () => t.track({ activityType: 'page_visit' }))
    await fetch(url, { headers: { 'x-request-id': 'req-from-proxy', 'user-agent': 'test-agent/1.0' } })
    await fetch(url)
    await t.flush()
    const [first, second] = sink.activities
    expect(first!.context).toEqual({ requestId: 'req-from-proxy', ip: '127.0.0.1', userAgent: 'test-agent/1.0' })
    expect(second!.context!.requestId).toMatch(/^[0-9a-f-]{36}$/)
    expect(second!.context!.requestId).not.toBe('req-from-proxy')
    await t.shutdown()
  })

  it('reads the user from the request with resolve, and the forwarded ip only when told to trust the proxy', async () => {
    const { sink, tracker: t } = tracker()
    const middleware = contextMiddleware({
      trustProxy: true,
      resolve: (request) => ({ userId: request.headers['x-user-id'] as string, sessionId: 'from-cookie' }),
    })
    const url = await serve(middleware, () => t.track({ activityType: 'deleted' }))
    await fetch(url, { headers: { 'x-user-id': '6', 'x-forwarded-for': '192.168.1.10, 10.0.0.1' } })
    const untrusted = await serve(contextMiddleware(), () => t.track({ activityType: 'untrusted' }))
    await fetch(untrusted, { headers: { 'x-forwarded-for': '192.168.1.10' } })
    await t.flush()
    expect(sink.activities[0]).toMatchObject({ userId: '6', sessionId: 'from-cookie', context: { ip: '192.168.1.10' } })
    expect(sink.activities[1]!.context!.ip).toBe('127.0.0.1')
    await t.shutdown()
  })

  it('works as Express middleware, with the user set by a later authentication middleware', async () => {
    const { sink, tracker: t } = tracker()
    const app = express()
    app.use(contextMiddleware())
    app.use((request, _response, next) => {
      const user = request.get('authorization')?.replace(/^Bearer /, '')
      if (user) updateContext({ userId: user })
      next()
    })
    app.use(express.json())
    const tailorResume = withActivity(t, { activityType: 'resume_generation' }, async (jobTitle: string) => {
      await new Promise((resolve) => setTimeout(resolve, 2))
      return { jobTitle, usage: { input_tokens: 1000, output_tokens: 420 } }
    })
    app.post('/api/resume', async (request, response) => {
      const result = await tailorResume(String(request.body.jobTitle))
      t.track({ activityType: 'resume_downloaded', metadata: { jobTitle: result.jobTitle } })
      response.json({ ok: true })
    })
    const server = app.listen(0, '127.0.0.1')
    servers.push(server)
    await new Promise((resolve) => server.once('listening', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/resume`
    await Promise.all(
      ['abc123', 'def456'].map((user) =>
        fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json' },
          body: JSON.stringify({ jobTitle: 'Data Engineer' }),
        }),
      ),
    )
    await t.flush()
    expect(sink.activities).toHaveLength(4)
    for (const user of ['abc123', 'def456']) {
      const own = sink.activities.filter((activity) => activity.userId === user)
      expect(own.map((activity) => activity.activityType).sort()).toEqual(['resume_downloaded', 'resume_generation'])
      // Both activities of one request carry its request id, and no other request's.
      expect(new Set(own.map((activity) => activity.context!.requestId)).size).toBe(1)
      expect(own.find((activity) => activity.activityType === 'resume_generation')).toMatchObject({
        tokenUsage: { input: 1000, output: 420, total: 1420 },
        status: 'success',
      })
    }
    await t.shutdown()
  })
})
