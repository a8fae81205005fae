import { httpSink, type HttpSinkOptions, type Sink } from '@usertracking/core'
import { keepAliveFetch, type KeepAliveFetchOptions } from './keep-alive-fetch'

/** Options of {@link nodeHttpSink}: those of core's `httpSink`, with the connection pool's in place of `fetch`. */
export interface NodeHttpSinkOptions extends Omit<HttpSinkOptions, 'fetch'>, KeepAliveFetchOptions {}

/**
 * Core's `httpSink` over {@link keepAliveFetch}: each batch is POSTed on a reused connection, and
 * `tracker.shutdown()` closes the pool.
 *
 * @param options - see {@link NodeHttpSinkOptions}.
 */
export function nodeHttpSink(options: NodeHttpSinkOptions): Sink {
  const { keepAlive, maxSockets, ...sinkOptions } = options
  const fetch = keepAliveFetch({ keepAlive, maxSockets })
  const sink = httpSink({ ...sinkOptions, fetch })
  return {
    name: sink.name,
    write: (batch, writeOptions) => sink.write(batch, writeOptions),
    async close() {
      fetch.close()
    },
  }
}
