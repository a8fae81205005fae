import type { IncomingMessage, ServerResponse } from 'node:http'
import { unref } from '@usertracking/core'
import { errorAnswer, HttpError, INTERNAL_ERROR, JSON_HEADERS, type JsonAnswer } from './errors'
import { NODE_FAST_PATH, type NodeFastPath } from './fast-path'
import type { ActivityHandler, HandlerContext } from './handler'
import { NodeRequestBody, rawHeader } from './node-body'

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
        // Nothing here reads the rest; once the answer is out, send reads and drops it (lingerOnBody).
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

/**
 * The web `Request` of a node:http request. `withBody: false` leaves the body out, for the fast
 * path's `authenticate`, which reads headers only (the ingest route reads the body itself).
 */
function toRequest(incoming: IncomingMessage, outgoing: ServerResponse, withBody = true): Request {
  const host = incoming.headers.host ?? 'localhost'
  const url = new URL(incoming.url ?? '/', `http://${/^[\w.:[\]-]+$/.test(host) ? host : 'localhost'}`)
  const headers = new Headers()
  for (let index = 0; index < incoming.rawHeaders.length; index += 2) {
    headers.append(incoming.rawHeaders[index]!, incoming.rawHeaders[index + 1]!)
  }
  const method = incoming.method ?? 'GET'
  if (method === 'GET' || method === 'HEAD' || !withBody) return new Request(url, { method, headers, signal: disconnectSignal(outgoing) })
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

/** Bytes of a request body read and thrown away after its answer, at most, before the connection is cut. */
const LINGER_MAX_BYTES = 16 * 1024 * 1024
/** How long a client still sending a request body is read after its answer, at most, in ms. */
const LINGER_MS = 5_000

/**
 * Called as the answer to a request is written; when its body was not read to its end (a 413, a
 * 401 before the upload finished), reads on and throws away what the client still sends, up to {@link LINGER_MAX_BYTES}
 * and {@link LINGER_MS}, instead of closing at once. A socket closed with unread bytes makes the
 * kernel reset the connection, and a client still sending then gets EPIPE or ECONNRESET in place
 * of the answer it was sent (the "lingering close" of RFC 9112 §9.6). A client that reads the
 * answer early closes by itself; once the body has ended, the connection serves its next request
 * as usual; past either bound it is cut.
 */
function lingerOnBody(incoming: IncomingMessage): void {
  if (incoming.complete || incoming.method === 'GET' || incoming.method === 'HEAD') return
  let read = 0
  const stop = () => {
    clearTimeout(timer)
    incoming.off('data', onData)
    incoming.off('end', stop)
    incoming.off('close', stop)
  }
  const cut = () => {
    stop()
    incoming.socket?.destroy()
  }
  const timer = unref(setTimeout(cut, LINGER_MS))
  const onData = (chunk: Buffer) => {
    read += chunk.byteLength
    if (read > LINGER_MAX_BYTES) cut()
  }
  incoming.on('data', onData)
  incoming.on('end', stop)
  incoming.on('close', stop)
  incoming.resume()
}

async function send(response: Response, incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
  outgoing.statusCode = response.status
  lingerOnBody(incoming)
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

/** The path of a request target without its query; undefined for a target that is not a path (`*`, an absolute URL). */
function pathOf(target: string | undefined): string | undefined {
  if (target === undefined || target[0] !== '/') return undefined
  const end = target.indexOf('?')
  return end === -1 ? target : target.slice(0, end)
}

/** Whether the web path would see this exact path too: no dot segments, backslashes or fragments that URL parsing rewrites. */
function plainPath(path: string): boolean {
  return !/[\\#]|\/\.\.?(?:\/|$)|\/\//.test(path)
}

/** Writes a JSON answer, with the headers its web `Response` would have had. */
function sendJson(incoming: IncomingMessage, outgoing: ServerResponse, answer: JsonAnswer, extra: Record<string, string> | undefined): void {
  const text = JSON.stringify(answer.body)
  lingerOnBody(incoming)
  outgoing.writeHead(answer.status, { ...JSON_HEADERS, ...answer.headers, ...extra, 'content-length': Buffer.byteLength(text) })
  outgoing.end(text)
}

/**
 * An ingest request served from node:http without web objects: the same route, limits, metrics
 * and CORS headers as the handler's web path (tested both ways). A `Response` thrown by
 * `authenticate` goes out through the web path's writer.
 */
async function serveIngest(fast: NodeFastPath, route: { path: string; status: 200 | 201 }, incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
  const body = new NodeRequestBody(incoming)
  let request: Request | undefined
  const webRequest = () => (request ??= toRequest(incoming, outgoing, false))
  let answer: JsonAnswer
  try {
    answer = await fast.ingest(
      {
        header: (name) => rawHeader(incoming, name),
        remoteAddress: incoming.socket.remoteAddress,
        request: webRequest,
        json: (limits) => body.json(limits),
      },
      route.status,
    )
  } catch (error) {
    if (error instanceof Response) {
      await body.discard(fast.body)
      fast.metrics.request(route.path, 'POST', error.status)
      const response = new Response(error.body, error)
      await send(fast.cors ? fast.cors.apply(webRequest(), response) : response, incoming, outgoing)
      return
    }
    if (HttpError.isInstance(error)) {
      // Read to the end (within bounds) so a client still sending can read the answer.
      await body.discard(fast.body)
      answer = errorAnswer(error)
    } else {
      fast.onError(error)
      answer = INTERNAL_ERROR
    }
  }
  fast.metrics.request(route.path, 'POST', answer.status)
  sendJson(incoming, outgoing, answer, fast.cors?.headers(rawHeader(incoming, 'origin'), 'POST'))
}

/**
 * Adapts a web-standard handler (such as {@link createActivityHandler}'s) to node:http and Express:
 * request bodies stream in, response bodies stream out with backpressure, the peer address reaches
 * the handler as `remoteAddress`, and a client that disconnects aborts `request.signal`.
 *
 * For a handler made by {@link createActivityHandler}, the ingest routes skip the web objects
 * altogether: the body is read from node:http and the JSON answer written to it directly, by the
 * same rules (limits, time limits, authentication, rate limit, CORS, metrics). `authenticate` then
 * receives a `Request` with the headers, URL and method but no body. Every other route, and any
 * other handler, goes through `Request` and `Response`.
 *
 * @param handler - the handler to serve.
 */
export function toNodeListener(handler: ActivityHandler | WebHandler): NodeListener {
  const fast = (handler as { [NODE_FAST_PATH]?: NodeFastPath })[NODE_FAST_PATH]
  return (incoming, outgoing) => {
    // A client that goes away mid-body makes the request emit 'error'; it must never go unheard.
    incoming.on('error', ignore)
    if (fast && incoming.method === 'POST') {
      const path = pathOf(incoming.url)
      const route = path !== undefined && plainPath(path) ? fast.ingestAt(path) : undefined
      if (route) {
        serveIngest(fast, route, incoming, outgoing).catch((error: unknown) => {
          fast.onError(error)
          outgoing.destroy()
        })
        return
      }
    }
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
      // A body the handler left unread: released, so that reading on after the answer is not held up by its queue.
      if (request.body && !request.body.locked) void request.body.cancel().catch(ignore)
      await send(response, incoming, outgoing)
    })()
  }
}

function ignore(): void {}
