import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { memoryStore } from '@usertracking/core'
import { describe, expect, it } from 'vitest'
import { createActivityHandler } from './handler'
import { toNodeListener } from './node-listener'

async function listen(listener: (request: IncomingMessage, response: ServerResponse) => void) {
  const server = createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe('toNodeListener', () => {
  it('takes a body an Express-style parser has already read', async () => {
    const store = memoryStore()
    const listener = toNodeListener(createActivityHandler({ store }))
    const server = await listen((request, response) => {
      let text = ''
      request.setEncoding('utf8')
      request.on('data', (chunk: string) => (text += chunk))
      request.on('end', () => {
        ;(request as IncomingMessage & { body?: unknown }).body = JSON.parse(text)
        listener(request, response)
      })
    })
    const response = await fetch(`${server.url}/api/activity`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"activityType":"parsed_upstream"}',
    })
    expect(response.status).toBe(200)
    expect((await store.list()).items.map((item) => item.activityType)).toEqual(['parsed_upstream'])
    await server.close()
  })

  it('passes response headers, cookies included, and answers 500 for a handler that throws', async () => {
    const server = await listen(
      toNodeListener(async (request) => {
        if (new URL(request.url).pathname === '/boom') throw new Error('bug')
        const headers = new Headers({ 'x-one': '1' })
        headers.append('set-cookie', 'a=1')
        headers.append('set-cookie', 'b=2')
        return new Response('hello', { status: 202, headers })
      }),
    )
    const response = await fetch(`${server.url}/`)
    expect(response.status).toBe(202)
    expect(response.headers.get('x-one')).toBe('1')
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(await response.text()).toBe('hello')
    expect((await fetch(`${server.url}/boom`)).status).toBe(500)
    await server.close()
  })
})

describe('createActivityHandler without a server', () => {
  it('answers web-standard requests directly, as in a Next.js route handler or on an edge runtime', async () => {
    const store = memoryStore()
    const handler = createActivityHandler({ store, authenticate: () => ({ userId: 'edge-user' }) })
    const posted = await handler(
      new Request('https://example.com/api/activity', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'edge-test' },
        body: '{"activityType":"edge","context":{"ip":"6.6.6.6"}}',
      }),
    )
    expect(posted.status).toBe(200)
    const listed = await handler(new Request('https://example.com/api/activities'))
    const { items } = (await listed.json()) as { items: { activityType: string; context?: { userAgent?: string; ip?: string } }[] }
    expect(items).toMatchObject([{ activityType: 'edge', context: { userAgent: 'edge-test' } }])
    expect(items[0]!.context!.ip).toBeUndefined()
    handler.close()
  })
})
