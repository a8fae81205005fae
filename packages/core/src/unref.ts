/**
 * Lets the process exit while `timer` is pending: on Node a timer keeps the process alive, and
 * tracking must never do that. A no-op where timers have no `unref` (browsers, edge runtimes).
 *
 * @param timer - a timer from `setTimeout` or `setInterval`.
 * @returns the same timer.
 */
export function unref<T extends ReturnType<typeof setTimeout> | ReturnType<typeof setInterval>>(timer: T): T {
  ;(timer as { unref?: () => void }).unref?.()
  return timer
}
