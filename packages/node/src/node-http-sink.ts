import { httpSink, type HttpSinkOptions, type Sink } from '@usertracking/core'
import { keepAliveTransport, type KeepAliveFetchOptions, type RawResponse } from './keep-alive-fetch'

/** Options of {@link nodeHttpSink}: those of core's `httpSink`, with the connection pool's in place of `fetch`. */
export interface NodeHttpSinkOptions extends Omit<HttpSinkOptions, 'fetch'>, KeepAliveFetchOptions {}

/**
 * The part of a `Response` that `httpSink` reads: the status, the `Retry-After` header and the body
 * (drained). A web `Response` would do, but building the first one loads undici, which costs about
 * 100 ms of one event-loop turn (measured in `pnpm bench track`) in a process that never fetches.
 */
function sinkResponse(raw: RawResponse): Response {
  const response = {
    status: raw.status,
    headers: {
      get(name: string): string | null {
        const value = raw.headers[name.toLowerCase()]
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value
      },
    },
    arrayBuffer: async () => raw.body,
  }
  return response as unknown as Response
}

/**
 * Core's `httpSink` over pooled keep-alive connections (those of `keepAliveFetch`): each batch is
 * POSTed on a reused connection, and `tracker.shutdown()` closes the pool.
 *
 * @param options - see {@link NodeHttpSinkOptions}.
 */
export function nodeHttpSink(options: NodeHttpSinkOptions): Sink {
  const { keepAlive, maxSockets, ...sinkOptions } = options
  const transport = keepAliveTransport({ keepAlive, maxSockets })
  const fetch = ((input: string | URL | Request, init?: RequestInit) => transport.request(input, init).then(sinkResponse)) as typeof globalThis.fetch
  const sink = httpSink({ ...sinkOptions, fetch })
  return {
    name: sink.name,
    write: (batch, writeOptions) => sink.write(batch, writeOptions),
    async close() {
      transport.close()
    },
  }
}
