import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ActivityHandler, HandlerContext } from './handler'

/** A node:http / Express request listener. */
export type NodeListener = (request: IncomingMessage, response: ServerResponse) => void

/** Any web-standard handler: a `Request` in, a `Response` out. */
export type WebHandler = (request: Request, context?: HandlerContext) => Promise<Response>

/**
 * The request body as a web stream, pausing the socket while the handler is not reading. Not
 * `Readable.toWeb`: on Node 20 it throws from a socket event after the handler cancels the stream
 * (ERR_INVALID_STATE), which a 413 or 415 always does.
 */
function bodyStream(incoming: IncomingMessage): ReadableStream<Uint8Array> {
  let finished = false
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        incoming.on('data', (chunk: Buffer) => {
          if (finished) return
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
          if ((controller.desiredSize ?? 0) <= 0) incoming.pause()
        })
        incoming.on('end', () => {
          if (finished) return
          finished = true
          controller.close()
        })
        incoming.on('error', (error) => {
          if (finished) return
          finished = true
          controller.error(error)
        })
      },
      pull() {
        incoming.resume()
      },
      cancel() {
        finished = true
        incoming.unpipe()
        // Nothing reads the rest, and the answer closes the connection (see send), so stop pulling it in.
        incoming.pause()
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  )
}

/** A signal aborted when the client disconnects before the answer is complete. */
function disconnectSignal(outgoing: ServerResponse): AbortSignal {
  const controller = new AbortController()
  outgoing.on('close', () => {
    if (!outgoing.writableFinished) controller.abort()
  })
  return controller.signal
}

function toRequest(incoming: IncomingMessage, outgoing: ServerResponse): Request {
  const host = incoming.headers.host ?? 'localhost'
  const url = new URL(incoming.url ?? '/', `http://${/^[\w.:[\]-]+$/.test(host) ? host : 'localhost'}`)
  const headers = new Headers()
  for (let index = 0; index < incoming.rawHeaders.length; index += 2) {
    headers.append(incoming.rawHeaders[index]!, incoming.rawHeaders[index + 1]!)
  }
  const method = incoming.method ?? 'GET'
  if (method === 'GET' || method === 'HEAD') return new Request(url, { method, headers, signal: disconnectSignal(outgoing) })
  // Express body parsers may have read the stream already; their result is what is left of the body.
  const parsed = (incoming as IncomingMessage & { body?: unknown }).body
  const body =
    parsed !== undefined && incoming.readableEnded
      ? typeof parsed === 'string' || parsed instanceof Uint8Array
        ? parsed
        : JSON.stringify(parsed)
      : bodyStream(incoming)
  return new Request(url, { method, headers, signal: disconnectSignal(outgoing), body, duplex: 'half' } as RequestInit)
}

async function send(response: Response, incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
  outgoing.statusCode = response.status
  // A body the handler refused unread cannot be skipped to find the next request on this connection.
  if (!incoming.complete && incoming.method !== 'GET' && incoming.method !== 'HEAD') outgoing.shouldKeepAlive = false
  const cookies = response.headers.getSetCookie()
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') outgoing.setHeader(name, value)
  })
  if (cookies.length > 0) outgoing.setHeader('set-cookie', cookies)
  if (!response.body) {
    outgoing.end()
    return
  }
  const reader = response.body.getReader()
  // The client went away: cancelling the body ends a live stream or an export at its source.
  const cancel = () => {
    if (!outgoing.writableFinished) void reader.cancel().catch(() => {})
  }
  outgoing.on('close', cancel)
  try {
    const streaming = response.headers.get('content-type')?.startsWith('text/event-stream') ?? false
    if (streaming) outgoing.flushHeaders()
    let chunk = await reader.read()
    if (!streaming && !chunk.done) {
      // Most answers are one small JSON chunk: sent with a Content-Length in a single write.
      const next = await reader.read()
      if (next.done) {
        outgoing.setHeader('content-length', chunk.value.byteLength)
        outgoing.end(chunk.value)
        return
      }
      outgoing.write(chunk.value)
      chunk = next
    }
    for (; !chunk.done; chunk = await reader.read()) {
      if (outgoing.destroyed) return
      if (!outgoing.write(chunk.value)) {
        await new Promise<void>((resolve) => {
          const settle = () => {
            outgoing.off('drain', settle)
            outgoing.off('close', settle)
            resolve()
          }
          outgoing.on('drain', settle)
          outgoing.on('close', settle)
        })
      }
    }
    outgoing.end()
  } catch {
    // The body failed midway (the store went away during an export): cut the connection so the
    // client sees a truncated response rather than a complete-looking one.
    outgoing.destroy()
  } finally {
    outgoing.off('close', cancel)
  }
}

/**
 * Adapts a web-standard handler (such as {@link createActivityHandler}'s) to node:http and Express:
 * request bodies stream in, response bodies stream out with backpressure, the peer address reaches
 * the handler as `remoteAddress`, and a client that disconnects aborts `request.signal`.
 *
 * @param handler - the handler to serve.
 */
export function toNodeListener(handler: ActivityHandler | WebHandler): NodeListener {
  return (incoming, outgoing) => {
    void (async () => {
      let request: Request
      try {
        request = toRequest(incoming, outgoing)
      } catch {
        outgoing.statusCode = 400
        outgoing.end()
        return
      }
      const context: HandlerContext = {}
      if (incoming.socket.remoteAddress !== undefined) context.remoteAddress = incoming.socket.remoteAddress
      let response: Response
      try {
        response = await handler(request, context)
      } catch {
        response = new Response(null, { status: 500 })
      }
      await send(response, incoming, outgoing)
    })()
  }
}
