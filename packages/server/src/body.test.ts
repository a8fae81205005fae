import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { ActivityHandlerOptions } from './handler'
import { ADMIN, startServer as startOn, TRANSPORTS, type TestServer } from '../test/test-server'

let server: TestServer | undefined
let sockets: Socket[] = []
afterEach(async () => {
  for (const socket of sockets) socket.destroy()
  sockets = []
  await server?.close()
  server = undefined
})

interface RawExchange {
  /** Everything the server sent before the connection ended. */
  answer: string
  /** The socket error the client saw (`EPIPE`, `ECONNRESET`), if any. */
  error?: string
  /** Body bytes the client managed to write. */
  written: number
}

/**
 * A raw HTTP/1.1 client that sends a large body in 64 KB pieces without pausing to read, as a
 * batching sink does, then reads whatever the server answered.
 */
function rawUpload(url: string, options: { totalBytes: number; chunked: boolean; headers?: Record<string, string> }): Promise<RawExchange> {
  const { port } = new URL(url)
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1')
    sockets.push(socket)
    const exchange: RawExchange = { answer: '', written: 0 }
    socket.setEncoding('latin1')
    socket.on('data', (data: string) => (exchange.answer += data))
    socket.on('error', (error: NodeJS.ErrnoException) => (exchange.error = error.code ?? error.message))
    socket.on('close', () => resolve(exchange))
    socket.on('connect', () => {
      const extra = Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`).join('')
      const length = options.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${options.totalBytes}`
      socket.write(`POST /api/activity HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n${extra}${length}\r\n\r\n`)
      const piece = Buffer.alloc(64 * 1024, 0x20)
      const pump = () => {
        while (exchange.written < options.totalBytes && !socket.destroyed) {
          exchange.written += piece.length
          const framed = options.chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece
          if (!socket.write(framed)) return void socket.once('drain', pump)
        }
        if (options.chunked && !socket.destroyed) socket.write('0\r\n\r\n')
      }
      pump()
    })
  })
}

describe.each(TRANSPORTS)('through the %s', (transport) => {
  const startServer = (options?: Partial<ActivityHandlerOptions>) => startOn(options, transport)

  describe('a refused body (RFC 9112 §9.6)', () => {
    it('lets a client still writing an 8 MB body read the 413, not a reset (Content-Length)', async () => {
      server = await startServer()
      const exchange = await rawUpload(server.url, { totalBytes: 8 * 1024 * 1024, chunked: false })
      expect(exchange.error).toBeUndefined()
      expect(exchange.answer).toMatch(/^HTTP\/1\.1 413 /)
      expect(exchange.answer).toContain('1048576-byte limit')
      expect(server.store.size).toBe(0)
    })

    it('lets a client still writing a chunked 8 MB body read the 413, not a reset', async () => {
      server = await startServer()
      const exchange = await rawUpload(server.url, { totalBytes: 8 * 1024 * 1024, chunked: true })
      expect(exchange.error).toBeUndefined()
      expect(exchange.answer).toMatch(/^HTTP\/1\.1 413 /)
    })

    it('lets a client read a 401 it got for a large body it was still writing', async () => {
      server = await startServer({ allowAnonymousIngest: false })
      const exchange = await rawUpload(server.url, { totalBytes: 4 * 1024 * 1024, chunked: false })
      expect(exchange.error).toBeUndefined()
      expect(exchange.answer).toMatch(/^HTTP\/1\.1 401 /)
    })

    it('stops reading past maxDrainBytes and cuts the connection, so a huge body cannot tie the server up', async () => {
      server = await startServer({ maxDrainBytes: 2 * 1024 * 1024 })
      const exchange = await rawUpload(server.url, { totalBytes: 64 * 1024 * 1024, chunked: true })
      // The server stopped taking the body long before the client's 64 MB were written.
      expect(exchange.written).toBeLessThan(64 * 1024 * 1024)
      expect(server.store.size).toBe(0)
      // And it still serves others.
      expect((await fetch(`${server.url}/api/activities`, { headers: ADMIN })).status).toBe(200)
    })
  })

  describe('the body read time limit', () => {
    it('answers 408 to a client that stops sending its body, and stores nothing', async () => {
      server = await startServer({ bodyTimeoutMs: 200 })
      const { port } = new URL(server.url)
      const socket = connect(Number(port), '127.0.0.1')
      sockets.push(socket)
      let answer = ''
      socket.setEncoding('latin1')
      socket.on('data', (data: string) => (answer += data))
      socket.on('error', () => {})
      const closed = new Promise((resolve) => socket.on('close', resolve))
      socket.write('POST /api/activity HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"activityType":"sl')
      // The client never sends the rest: the server must answer by itself.
      await closed
      expect(answer).toMatch(/^HTTP\/1\.1 408 /)
      expect(answer).toContain('did not arrive within 200 ms')
      expect(server.store.size).toBe(0)
    })
  })
})
