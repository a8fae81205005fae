import { parseRetryAfter } from './backoff'
import type { SinkResult } from './sink'

/** How one HTTP status is treated; see {@link httpStatusToResult}. */
export type HttpStatusPolicy = 'success' | 'retryable' | 'too_large' | 'failure'

/** Per-status overrides of the default policy, e.g. `{ 404: 'retryable' }` while an endpoint deploys. */
export type StatusCodeOverrides = Partial<Record<number, HttpStatusPolicy>>

/**
 * The default policy, in one place: 2xx success; 408, 429 and 5xx retryable (the request may
 * succeed later); 413 too large (halve the batch); any other status a permanent failure.
 */
export function defaultStatusPolicy(status: number): HttpStatusPolicy {
  if (status >= 200 && status < 300) return 'success'
  if (status === 413) return 'too_large'
  if (status === 408 || status === 429 || status >= 500) return 'retryable'
  return 'failure'
}

/**
 * Maps an HTTP response to a {@link SinkResult}. Pure, so the whole policy is testable without a
 * socket.
 *
 * @param status - the response status.
 * @param retryAfter - the `Retry-After` header, honoured for retryable statuses.
 * @param overrides - per-status policy overrides.
 * @param nowMs - the clock, for an HTTP-date `Retry-After`.
 */
export function httpStatusToResult(
  status: number,
  retryAfter: string | null | undefined,
  overrides: StatusCodeOverrides = {},
  nowMs: number = Date.now(),
): SinkResult {
  const policy = overrides[status] ?? defaultStatusPolicy(status)
  const error = new Error(`HTTP ${status}`)
  switch (policy) {
    case 'success':
      return { type: 'success' }
    case 'too_large':
      return { type: 'too_large', error }
    case 'retryable': {
      const retryInMs = parseRetryAfter(retryAfter, nowMs)
      return retryInMs === undefined ? { type: 'retryable', error } : { type: 'retryable', retryInMs, error }
    }
    case 'failure':
      return { type: 'failure', error }
  }
}
