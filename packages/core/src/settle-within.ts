import { unref } from './unref'

/**
 * Settles like `work`, or rejects with what `timedOut` returns once `timeoutMs` passed (where a
 * caller also cancels what is stuck). What `work` does after that is ignored: a late rejection is
 * handled here, never left unhandled. The timer is `unref`ed, so it keeps no process alive.
 *
 * @param work - the operation.
 * @param timeoutMs - its time limit, in ms.
 * @param timedOut - builds the error to reject with; if it throws, that is the error.
 */
export function settleWithin<T>(work: PromiseLike<T>, timeoutMs: number, timedOut: () => unknown): Promise<T> {
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
        if (done) return
        done = true
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
