import { settleWithin } from '@usertracking/core'
import { HttpError } from './errors'

/** How the handler calls its store: with a time limit, and store failures mapped to answers. */
export interface StoreCaller {
  /**
   * Runs one store call. Resolves with its result; rejects with an `HttpError`: 503 with
   * `Retry-After` when the store fails or takes longer than the time limit, 400 when the store
   * refuses the query with a `RangeError` (a cursor it did not issue, an interval it cannot serve),
   * 501 when it throws a `TypeError`: what the store cannot do as configured (`identify` on a table
   * without an anonymous id), which no retry mends.
   * The result of a call that came too late is dropped, and its failure reported, never left unhandled.
   *
   * @param call - starts the call; the signal aborts when the time limit passes or `options.signal` aborts.
   * @param options - `parameter`: the query parameter a `RangeError` is about, for the 400's issue
   *   path; `signal`: aborts the call too (the client went away).
   */
  run<T>(call: (signal: AbortSignal) => Promise<T>, options?: { parameter?: string; signal?: AbortSignal }): Promise<T>
  /** The 503 answered when the store cannot serve. */
  unavailable(retryAfterSeconds?: number): HttpError
}

/**
 * The 501 for a store's `TypeError`. The store's own sentence (`[usertracking] [postgres] …`) is
 * passed on; any other error's message (a driver's, a bug's) stays in the logs.
 */
function unsupported(storeName: string, error: TypeError): HttpError {
  const own = /^\[usertracking\](?: \[[^\]]+\])* (.+)$/s.exec(error.message)?.[1]
  return new HttpError(501, `The ${storeName} store cannot do this${own ? `: ${own}` : '.'}`, { cause: error })
}

/** Seconds a client is asked to wait after a store call timed out: a stalled database needs more than a blip. */
const TIMEOUT_RETRY_AFTER_SECONDS = 5

/**
 * @param storeName - names the store in answers.
 * @param timeoutMs - the time limit of one call, in ms.
 * @param onError - receives store failures, late ones included.
 */
export function createStoreCaller(storeName: string, timeoutMs: number, onError: (error: unknown) => void): StoreCaller {
  const unavailable = (retryAfterSeconds = 1) =>
    new HttpError(503, `The ${storeName} store is unavailable; try again.`, { headers: { 'retry-after': String(retryAfterSeconds) } })

  return {
    unavailable,
    run(call, options = {}) {
      const controller = new AbortController()
      const forward = () => controller.abort(options.signal?.reason)
      if (options.signal?.aborted) forward()
      else options.signal?.addEventListener('abort', forward, { once: true })
      let work: ReturnType<typeof call>
      try {
        work = call(controller.signal)
      } catch (error) {
        work = Promise.reject(error)
      }
      void work.finally(() => options.signal?.removeEventListener('abort', forward)).catch(() => {})
      let timeout: HttpError | undefined
      const timedOut = () => {
        timeout = new HttpError(503, `The ${storeName} store did not answer within ${timeoutMs} ms; try again.`, {
          headers: { 'retry-after': String(TIMEOUT_RETRY_AFTER_SECONDS) },
        })
        controller.abort(timeout)
        onError(timeout)
        return timeout
      }
      // A failure after the 503 still belongs in the logs.
      return settleWithin(work, timeoutMs, timedOut, onError).catch((error: unknown) => {
        if (error === timeout) throw error
        if (error instanceof RangeError) {
          throw new HttpError(400, 'The query parameters are invalid; each issue names its parameter.', {
            issues: [{ path: options.parameter === undefined ? ['query'] : ['query', options.parameter], message: error.message }],
            cause: error,
          })
        }
        onError(error)
        throw error instanceof TypeError ? unsupported(storeName, error) : unavailable()
      })
    },
  }
}
