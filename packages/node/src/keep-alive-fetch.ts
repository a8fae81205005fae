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
  const keepAlive = options.keepAlive ?? true
  const maxSockets = options.maxSockets ?? 4
  const agents = {
    'http:': new http.Agent({ keepAlive, maxSockets }),
    'https:': new https.Agent({ keepAlive, maxSockets }),
  }

  const fetchImpl = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      const signal = init.signal ?? undefined
      if (signal?.aborted) {
        reject(signal.reason)
        return
      }
      let url: URL
      let body: Buffer | undefined
      try {
        url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url)
        body = toBuffer(init.body as Body | null | undefined)
      } catch (error) {
        reject(error)
        return
      }
      const agent = url.protocol === 'https:' ? agents['https:'] : url.protocol === 'http:' ? agents['http:'] : undefined
      if (!agent) {
        reject(new TypeError(`[usertracking] [node] keepAliveFetch supports http: and https: URLs only; got ${url.protocol}`))
        return
      }
      const headers: Record<string, string> = {}
      new Headers(init.headers).forEach((value, name) => {
        headers[name] = value
      })
      if (body) headers['content-length'] = String(body.length)
      const client = url.protocol === 'https:' ? https : http
      const send = (firstTry: boolean) => {
        const request = client.request(url, { method: init.method ?? 'GET', headers, agent })
        const onAbort = () => request.destroy(signal?.reason instanceof Error ? signal.reason : new Error('The request was aborted.'))
        signal?.addEventListener('abort', onAbort, { once: true })
        const fail = (error: unknown) => {
          signal?.removeEventListener('abort', onAbort)
          reject(signal?.aborted ? signal.reason : error)
        }
        request.on('error', (error: NodeJS.ErrnoException) => {
          // A pooled connection the server closed while idle fails on reuse; Node's documentation
          // advises sending again on a fresh one. Ingest batches are idempotent by id.
          if (firstTry && request.reusedSocket && error.code === 'ECONNRESET' && !signal?.aborted) {
            signal?.removeEventListener('abort', onAbort)
            send(false)
            return
          }
          fail(error)
        })
        request.on('response', (response) => {
          const chunks: Buffer[] = []
          response.on('data', (chunk: Buffer) => chunks.push(chunk))
          response.on('error', fail)
          response.on('aborted', () => fail(new Error('The response was cut off.')))
          response.on('end', () => {
            signal?.removeEventListener('abort', onAbort)
            const status = response.statusCode ?? 0
            try {
              resolve(
                new Response(NULL_BODY_STATUSES.has(status) ? null : Buffer.concat(chunks), {
                  status,
                  statusText: response.statusMessage ?? '',
                  headers: toHeaders(response.headers),
                }),
              )
            } catch (error) {
              reject(error)
            }
          })
        })
        request.end(body)
      }
      send(true)
    })

  return Object.assign(fetchImpl, {
    close() {
      agents['http:'].destroy()
      agents['https:'].destroy()
    },
  })
}
