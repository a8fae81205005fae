import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createTracker, httpSink } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import { keepAliveFetch } from './keep-alive-fetch'
import { nodeHttpSink } from './node-http-sink'
import { startCollector, type Collector } from '../test/collector'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

async function collector(): Promise<Collector> {
  const started = await startCollector()
  cleanups.push(() => started.close())
  return started
}

describe('keepAliveFetch', () => {
  it('sends many requests over one connection', async () => {
    const server = await collector()
    const fetch = keepAliveFetch()
    cleanups.push(() => fetch.close())
    for (let index = 0; index < 20; index++) {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ activities: [] }),
      })
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ ok: true })
    }
    expect(server.requests).toBe(20)
    expect(server.connections).toBe(1)
  })

  it('opens a connection per request with keepAlive false', async () => {
    const server = await collector()
    const fetch = keepAliveFetch({ keepAlive: false })
    cleanups.push(() => fetch.close())
    for (let index = 0; index < 5; index++) {
      await fetch(server.url, { method: 'POST', body: '{"activities":[]}' })
    }
    expect(server.connections).toBe(5)
  })

  it('sends again on a fresh connection when the server dropped a pooled one', async () => {
    const served = new WeakSet<object>()
    let dropped = 0
    const server: Server = createServer((request, response) => {
      request.resume()
      // A second request on a connection stands for one the server closed while it sat idle.
      if (served.has(request.socket)) {
        dropped++
        request.socket.destroy()
        return
      }
      served.add(request.socket)
      response.writeHead(200).end('ok')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    const fetch = keepAliveFetch()
    cleanups.push(() => fetch.close())
    for (let index = 0; index < 3; index++) {
      const response = await fetch(url, { method: 'POST', body: '{}' })
      expect(await response.text()).toBe('ok')
    }
    expect(dropped).toBe(2)
  })

  it('gives httpSink the status and Retry-After, and rejects on abort and on a refused connection', async () => {
    let hang = false
    const server: Server = createServer((_request, response) => {
      if (hang) return
      response.writeHead(429, { 'retry-after': '7' }).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    const fetch = keepAliveFetch()
    cleanups.push(() => fetch.close())
    const sink = httpSink({ url, fetch })
    const signal = new AbortController().signal
    expect(await sink.write([], { signal })).toMatchObject({ type: 'retryable', retryInMs: 7000 })

    hang = true
    const controller = new AbortController()
    const pending = fetch(url, { method: 'POST', body: 'x', signal: controller.signal })
    controller.abort(new Error('stop'))
    await expect(pending).rejects.toThrow('stop')

    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`
    await new Promise((resolve) => closed.close(resolve))
    await expect(fetch(closedUrl)).rejects.toThrow(/ECONNREFUSED/)
    await expect(fetch('ftp://127.0.0.1/')).rejects.toThrow(/http: and https: URLs only/)
  })
})

describe('nodeHttpSink', () => {
  it('delivers the batches of a tracker on one reused connection', async () => {
    const server = await collector()
    const tracker = createTracker({ sinks: [nodeHttpSink({ url: server.url })], batchSize: 10, debounceTime: 0 })
    for (let round = 0; round < 5; round++) {
      for (let index = 0; index < 10; index++) tracker.track({ activityType: 'click', metadata: { round, index } })
      expect(await tracker.flush(5000)).toBe(true)
    }
    await tracker.shutdown()
    expect(server.received.size).toBe(50)
    expect(server.requests).toBe(5)
    expect(server.connections).toBe(1)
  })

  it('reads the status and Retry-After itself, and sends the headers it is given', async () => {
    const seen: (string | undefined)[] = []
    let status = 429
    const server: Server = createServer((request, response) => {
      seen.push(request.headers['x-api-key'] as string | undefined)
      request.resume()
      request.on('end', () => response.writeHead(status, { 'retry-after': '7' }).end('{}'))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }))
    const sink = nodeHttpSink({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, headers: async () => ({ 'X-Api-Key': 'k1' }) })
    cleanups.push(() => sink.close?.())
    const signal = new AbortController().signal
    expect(await sink.write([], { signal })).toMatchObject({ type: 'retryable', retryInMs: 7000 })
    status = 413
    expect(await sink.write([], { signal })).toMatchObject({ type: 'too_large' })
    status = 200
    expect(await sink.write([], { signal })).toEqual({ type: 'success' })
    expect(seen).toEqual(['k1', 'k1', 'k1'])
  })
})
