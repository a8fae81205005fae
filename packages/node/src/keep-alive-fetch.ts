import http from 'node:http'
import https from 'node:https'

/** Options of {@link keepAliveFetch}. */
export interface KeepAliveFetchOptions {
  /**
   * Keeps connections open between requests. Each batch then skips the TCP (and TLS) handshake —
   * one round trip on plain HTTP, two or more on HTTPS. `false` opens a connection per request.
   * @default true
   */
  keepAlive?: boolean
  /**
   * Most connections per host. A tracker has one write in flight per sink, so a few suffice.
   * @default 4
   */
  maxSockets?: number
}

/** A `fetch` over Node's own HTTP client; see {@link keepAliveFetch}. */
export interface KeepAliveFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>
  /** Closes every pooled connection. Later requests open new ones. */
  close(): void
}

type Body = string | ArrayBuffer | ArrayBufferView

function toBuffer(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string') return Buffer.from(body)
  if (body instanceof ArrayBuffer) return Buffer.from(body)
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  throw new TypeError('[usertracking] [node] keepAliveFetch sends string, ArrayBuffer and typed-array bodies only.')
}

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const item of value) headers.append(name, item)
    else headers.append(name, value)
  }
  return headers
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304])

/** What a request answered, before anything turns it into a web `Response`. */
export interface RawResponse {
  status: number
  statusText: string
  headers: http.IncomingHttpHeaders
  body: Buffer<ArrayBuffer>
}

/** Requests over pooled connections; see {@link keepAliveTransport}. */
export interface KeepAliveTransport {
  request(input: string | URL | Request, init?: RequestInit): Promise<RawResponse>
  close(): void
}

/**
 * Request headers as a plain record. A plain object (what `httpSink` passes) is read as it is:
 * `Headers` is undici's, and its first use loads undici, about 100 ms of one event-loop turn.
 */
function headerRecord(given: RequestInit['headers']): Record<string, string> {
  const headers: Record<string, string> = {}
  if (given === undefined || given === null) return headers
  if (Array.isArray(given) || typeof (given as { forEach?: unknown }).forEach === 'function') {
    new Headers(given).forEach((value, name) => {
      headers[name] = value
    })
    return headers
  }
  for (const [name, value] of Object.entries(given as Record<string, string>)) headers[name.toLowerCase()] = String(value)
  return headers
}

/**
 * The requests of {@link keepAliveFetch}, answered as {@link RawResponse}s: `nodeHttpSink` reads
 * them without building web `Response`s.
 *
 * @param options - see {@link KeepAliveFetchOptions}.
 */
export function keepAliveTransport(options: KeepAliveFetchOptions = {}): KeepAliveTransport {
  const keepAlive = options.keepAlive ?? true
  const maxSockets = options.maxSockets ?? 4
  const agents = {
    'http:': new http.Agent({ keepAlive, maxSockets }),
    'https:': new https.Agent({ keepAlive, maxSockets }),
  }

  const request = (input: string | URL | Request, init: RequestInit = {}): Promise<RawResponse> =>
    new Promise<RawResponse>((resolve, reject) => {
      const signal = init.signal ?? undefined
      if (signal?.aborted) {
        reject(signal.reason)
        return
      }
      let url: URL
      let body: Buffer | undefined
      let headers: Record<string, string>
      try {
        url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url)
        body = toBuffer(init.body as Body | null | undefined)
        headers = headerRecord(init.headers)
      } catch (error) {
        reject(error)
        return
      }
      const agent = url.protocol === 'https:' ? agents['https:'] : url.protocol === 'http:' ? agents['http:'] : undefined
      if (!agent) {
        reject(new TypeError(`[usertracking] [node] keepAliveFetch supports http: and https: URLs only; got ${url.protocol}`))
        return
      }
      if (body) headers['content-length'] = String(body.length)
      const client = url.protocol === 'https:' ? https : http
      const send = (firstTry: boolean) => {
        const outgoing = client.request(url, { method: init.method ?? 'GET', headers, agent })
        const onAbort = () => outgoing.destroy(signal?.reason instanceof Error ? signal.reason : new Error('The request was aborted.'))
        signal?.addEventListener('abort', onAbort, { once: true })
        const fail = (error: unknown) => {
          signal?.removeEventListener('abort', onAbort)
          reject(signal?.aborted ? signal.reason : error)
        }
        outgoing.on('error', (error: NodeJS.ErrnoException) => {
          // A pooled connection the server closed while idle fails on reuse; Node's documentation
          // advises sending again on a fresh one. Ingest batches are idempotent by id.
          if (firstTry && outgoing.reusedSocket && error.code === 'ECONNRESET' && !signal?.aborted) {
            signal?.removeEventListener('abort', onAbort)
            send(false)
            return
          }
          fail(error)
        })
        outgoing.on('response', (response) => {
          const chunks: Buffer[] = []
          response.on('data', (chunk: Buffer) => chunks.push(chunk))
          response.on('error', fail)
          response.on('aborted', () => fail(new Error('The response was cut off.')))
          response.on('end', () => {
            signal?.removeEventListener('abort', onAbort)
            resolve({
              status: response.statusCode ?? 0,
              statusText: response.statusMessage ?? '',
              headers: response.headers,
              body: Buffer.concat(chunks),
            })
          })
        })
        outgoing.end(body)
      }
      send(true)
    })

  return {
    request,
    close() {
      agents['http:'].destroy()
      agents['https:'].destroy()
    },
  }
}

/**
 * A `fetch` for `httpSink({ fetch })` built on `node:http` / `node:https` with a keep-alive
 * `Agent`, so a tracker reuses its connections instead of opening one per batch. Idle pooled
 * connections never keep the process alive (the `Agent` unrefs them).
 *
 * It covers what a sink needs, not all of `fetch`: a `string` or `URL` (or the URL of a `Request`),
 * `method`, `headers`, `signal` and a string or binary body. It resolves once the whole response
 * body has arrived (ingest responses are small), with a standard `Response`.
 *
 * Node's global `fetch` (undici) also keeps connections alive; this one is plain `node:http`,
 * adds no dependency, and costs less CPU per request (see the `node` benchmark).
 *
 * @param options - see {@link KeepAliveFetchOptions}.
 */
export function keepAliveFetch(options: KeepAliveFetchOptions = {}): KeepAliveFetch {
  const transport = keepAliveTransport(options)
  const fetchImpl = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
    transport.request(input, init).then(
      (raw) =>
        new Response(NULL_BODY_STATUSES.has(raw.status) ? null : raw.body, {
          status: raw.status,
          statusText: raw.statusText,
          headers: toHeaders(raw.headers),
        }),
    )
  return Object.assign(fetchImpl, { close: transport.close })
}
