import { settleWithin } from '@usertracking/core'
import { PostgresStoreError } from './errors'

/**
 * A statement (or a connection attempt, or a transaction) that did not finish within the store's
 * `queryTimeoutMs`: the database is stalled or unreachable. It carries no SQLSTATE, so the sink
 * answers it as retryable.
 */
export class QueryTimeoutError extends PostgresStoreError {
  override name = 'QueryTimeoutError'

  /**
   * @param what - the operation, as a noun phrase.
   * @param timeoutMs - the bound it exceeded.
   */
  constructor(what: string, timeoutMs: number) {
    super(`${what} did not finish within ${timeoutMs} ms; the database is stalled or unreachable.`)
  }
}

/**
 * Settles like `work`, or rejects with a {@link QueryTimeoutError} after `timeoutMs` and calls
 * `onTimeout` (to destroy or cancel what is stuck). A late rejection of `work` is handled, so it
 * never surfaces as an unhandled rejection.
 */
export function withTimeout<T>(work: PromiseLike<T>, timeoutMs: number, what: string, onTimeout?: (error: QueryTimeoutError) => void): Promise<T> {
  return settleWithin(work, timeoutMs, () => {
    const error = new QueryTimeoutError(what, timeoutMs)
    try {
      onTimeout?.(error)
    } catch {
      // The clean-up failing does not change why the call failed; thrown from a timer it would crash the host.
    }
    return error
  })
}
