import type { Activity } from './activity'
import { httpStatusToResult, type StatusCodeOverrides } from './http-result'
import type { Sink, SinkResult } from './sink'
import { unref } from './unref'

/** Options of {@link httpSink}. */
export interface HttpSinkOptions {
  /** The endpoint that receives `POST` batches, e.g. the server package's `/api/activity`. */
  url: string | URL
  /**
   * Extra request headers, or a function returning them per request (for short-lived auth
   * tokens); it may be async. A throw or rejection makes the write retryable.
   */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>)
  /** The `fetch` to use. @default globalThis.fetch */
  fetch?: typeof fetch
  /** How long one request may take before it is aborted and retried, in milliseconds. @default 10000 */
  timeoutMs?: number
  /** Per-status overrides of the retry policy, e.g. `{ 404: 'retryable' }`. */
  statusCodeOverrides?: StatusCodeOverrides
  /**
   * Turns a batch into the request body. @default `JSON.stringify({ activities: batch })`, which
   * the server package's ingest handler accepts.
   */
  serialize?: (batch: Activity[]) => string
  /** Extra `fetch` init, e.g. `{ keepalive: true }` or `{ credentials: 'include' }`. */
  init?: Omit<RequestInit, 'body' | 'method' | 'headers' | 'signal'>
  /** Sink name in logs and stats. @default 'http' */
  name?: string
  /**
   * Largest request body sent, in bytes of UTF-8. A larger batch is not sent: the write answers
   * `too_large`, so the tracker halves it (a single activity that large is dropped as `too_large`).
   * The tracker's `maxBatchBytes` (512 KiB) normally keeps batches well below; this is the exact
   * check. @default 1000000 — under the server package's `maxBodyBytes` (1 MiB).
   */
  maxBodyBytes?: number
}

/**
 * A body at least this large whose request fails at the network level (a reset, `fetch failed`) is
 * treated as too large: a server that refuses a body by size answers 413 and closes without reading
 * the rest, so a client still sending sees a reset before it can read the 413 (RFC 9112 §9.6).
 * Express refuses bodies over 100 KB by default; 64 KiB stays under such limits.
 */
const LARGE_BODY_BYTES = 64 * 1024

/**
 * A sink that POSTs each batch as JSON. Status codes map to results by one pure function
 * (`httpStatusToResult`): 2xx success; 408, 429 and 5xx retryable, honouring `Retry-After`; 413
 * halves the batch; other statuses fail permanently. Network errors and timeouts are retryable.
 *
 * @param options - see {@link HttpSinkOptions}.
 */
export function httpSink(options: HttpSinkOptions): Sink {
  const timeoutMs = options.timeoutMs ?? 10_000
  const maxBodyBytes = options.maxBodyBytes ?? 1_000_000
  const serialize = options.serialize ?? ((batch: Activity[]) => JSON.stringify({ activities: batch }))
  const encoder = new TextEncoder()
  return {
    name: options.name ?? 'http',
    async write(batch, { signal }): Promise<SinkResult> {
      const doFetch = options.fetch ?? globalThis.fetch
      const controller = new AbortController()
      const abort = () => controller.abort(signal.reason)
      if (signal.aborted) abort()
      else signal.addEventListener('abort', abort, { once: true })
      const timer = unref(setTimeout(() => controller.abort(new Error(`Request timed out after ${timeoutMs} ms.`)), timeoutMs))
      let body: Uint8Array<ArrayBuffer> | undefined
      try {
        body = encoder.encode(serialize(batch)) as Uint8Array<ArrayBuffer>
        if (body.byteLength > maxBodyBytes) {
          return { type: 'too_large', error: new Error(`The request body of ${body.byteLength} bytes is over maxBodyBytes (${maxBodyBytes}).`) }
        }
        const extra = typeof options.headers === 'function' ? await options.headers() : options.headers
        const response = await doFetch(options.url, {
          ...options.init,
          method: 'POST',
          headers: { 'content-type': 'application/json', ...extra },
          body,
          signal: controller.signal,
        })
        // Drain the body so the connection goes back to the keep-alive pool.
        await response.arrayBuffer().catch(() => undefined)
        return httpStatusToResult(response.status, response.headers.get('retry-after'), options.statusCodeOverrides)
      } catch (error) {
        // A reset while sending a large batch is most likely a size refusal we could not read: halve.
        const suspect = !controller.signal.aborted && batch.length > 1 && body !== undefined && body.byteLength >= LARGE_BODY_BYTES
        return suspect ? { type: 'too_large', error } : { type: 'retryable', error }
      } finally {
        clearTimeout(timer)
        signal.removeEventListener('abort', abort)
      }
    },
  }
}
