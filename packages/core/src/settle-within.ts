import { unref } from './unref'

/**
 * Settles like `work`, or rejects with what `timedOut` returns once `timeoutMs` passed (where a
 * caller also cancels what is stuck). What `work` does after that never surfaces as an unhandled
 * rejection: a late rejection goes to `onLateFailure` (to log it) or is dropped. The timer is
 * `unref`ed, so it keeps no process alive.
 *
 * @param work - the operation.
 * @param timeoutMs - its time limit, in ms.
 * @param timedOut - builds the error to reject with; if it throws, that is the error.
 * @param onLateFailure - receives a rejection of `work` that came after the time limit; what it
 *   throws is dropped.
 */
export function settleWithin<T>(work: PromiseLike<T>, timeoutMs: number, timedOut: () => unknown, onLateFailure?: (error: unknown) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false
    const timer = unref(
      setTimeout(() => {
        if (done) return
        done = true
        let error: unknown
        try {
          error = timedOut()
        } catch (thrown) {
          error = thrown
        }
        reject(error)
      }, timeoutMs),
    )
    work.then(
      (value) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        if (done) {
          try {
            onLateFailure?.(error)
          } catch {
            // Thrown here it would be an unhandled rejection: the caller already had its answer.
          }
          return
        }
        done = true
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
