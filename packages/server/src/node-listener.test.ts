import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { memoryStore } from '@usertracking/core'
import { describe, expect, it } from 'vitest'
import { createActivityHandler, type ActivityHandler } from './handler'
import { toNodeListener } from './node-listener'
import { TRANSPORTS, type Transport } from '../test/test-server'

/** `toNodeListener` over the handler itself (its fast path) or over a plain web handler wrapping it. */
function listenerFor(handler: ActivityHandler, transport: Transport) {
  return transport === 'node fast path' ? toNodeListener(handler) : toNodeListener((request, context) => handler(request, context))
}

async function listen(listener: (request: IncomingMessage, response: ServerResponse) => void) {
  const server = createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe.each(TRANSPORTS)('toNodeListener through the %s', (transport) => {
  it('lets a client still sending a refused body read the answer instead of a reset (lingering close)', async () => {
    // The client sends past what the handler drains before answering, and only reads once it has
    // sent everything (as curl does). Closing the socket while its bytes were unread made the
    // kernel reset the connection: the client's next write failed with EPIPE, or its read with
    // ECONNRESET, and the 413 was lost (the occasional EPIPE of the chunked-body test in
    // ingest.test.ts, where fetch reads early but not always early enough).
    const handler = createActivityHandler({ store: memoryStore(), maxBodyBytes: 64 * 1024, maxDrainBytes: 256 * 1024 })
    const server = await listen(listenerFor(handler, transport))
    try {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1')
      let received = ''
      let failure: unknown
      socket.setEncoding('latin1')
      socket.on('data', (text: string) => (received += text))
      socket.on('error', (error) => (failure = error))
      const closed = new Promise((resolve) => socket.on('close', resolve))
      const write = (data: string | Uint8Array) => new Promise<void>((resolve) => socket.write(data, () => resolve()))
      await write('POST /api/activity HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n')
      const chunk = Buffer.concat([Buffer.from(`${(32 * 1024).toString(16)}\r\n`), Buffer.alloc(32 * 1024, 0x20), Buffer.from('\r\n')])
      // 8 MiB: far more than the handler reads before it answers, and than socket buffers hold.
      for (let sent = 0; sent < 8 * 1024 * 1024 && failure === undefined; sent += 32 * 1024) await write(chunk)
      if (failure === undefined) await write('0\r\n\r\n')
      socket.end()
      await closed
      expect(failure).toBeUndefined()
      expect(received).toMatch(/^HTTP\/1\.1 413 /)
    } finally {
      await server.close()
    }
  })

  it('takes a body an Express-style parser has already read', async () => {
    const store = memoryStore()
    const listener = listenerFor(createActivityHandler({ store }), transport)
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

  it('serves ingest at paths URL parsing rewrites (dot segments, a trailing slash, a query)', async () => {
    const store = memoryStore()
    const server = await listen(listenerFor(createActivityHandler({ store }), transport))
    // Sent with node:http, which (unlike fetch) sends the path as written.
    const status = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const request = httpRequest(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
          response.resume()
          resolve(response.statusCode!)
        })
        request.on('error', reject)
        request.end('{"activityType":"x"}')
      })
    for (const path of ['/api/x/../activity', '/api/./activity', '/api/activity/', '/api/activity?source=tag', '/api//activity']) {
      expect(await status(path), path).toBe(path === '/api//activity' ? 404 : 200)
    }
    expect(store.size).toBe(4)
    await server.close()
  })

  it('gives authenticate the headers, URL and method of an ingest request (no body on the fast path)', async () => {
    const seen: { method: string; url: string; authorization: string | null; body: boolean }[] = []
    const store = memoryStore()
    const handler = createActivityHandler({
      store,
      authenticate: (request) => {
        seen.push({ method: request.method, url: new URL(request.url).pathname, authorization: request.headers.get('authorization'), body: request.body !== null })
        return { userId: 'u1' }
      },
    })
    const server = await listen(listenerFor(handler, transport))
    const response = await fetch(`${server.url}/api/event?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
      body: '{"action":"signed_in"}',
    })
    expect(response.status).toBe(201)
    // The fast path never builds the body stream: the ingest route reads node:http directly.
    expect(seen).toEqual([{ method: 'POST', url: '/api/event', authorization: 'Bearer t', body: transport !== 'node fast path' }])
    expect((await store.list()).items).toMatchObject([{ activityType: 'signed_in', userId: 'u1' }])
    await server.close()
  })

  it('answers a Response that authenticate returns as is, CORS headers added', async () => {
    const handler = createActivityHandler({
      store: memoryStore(),
      cors: true,
      authenticate: () => new Response('{"error":"expired session"}', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }),
    })
    const server = await listen(listenerFor(handler, transport))
    const response = await fetch(`${server.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://site.example' }, body: '{"activityType":"x"}' })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"')
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(await response.text()).toBe('{"error":"expired session"}')
    await server.close()
  })

  it('answers 500 without details when authenticate throws something other than an HttpError, and reports it', async () => {
    const errors: unknown[] = []
    const handler = createActivityHandler({
      store: memoryStore(),
      onError: (error) => errors.push(error),
      authenticate: () => {
        throw new Error('session store down')
      },
    })
    const server = await listen(listenerFor(handler, transport))
    const response = await fetch(`${server.url}/api/activity`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"activityType":"x"}' })
    expect(response.status).toBe(500)
    expect(await response.json()).toEqual({ error: '[usertracking] [server] Something went wrong on the server.' })
    expect(errors).toEqual([new Error('session store down')])
    await server.close()
  })
})

describe('toNodeListener', () => {
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
