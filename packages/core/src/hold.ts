import { MAX_TIMER_MS } from './positive-option'

/**
 * A ref'd timer held while someone awaits a tracker's `flush()` or `shutdown()`: every other timer
 * of the tracker is unref'd so that tracking never keeps a process alive, but an awaited flush must
 * not be cut short by the process exiting. A part `createTracker` adds; the lean `createCanonicalTracker`,
 * meant for bundles (a page has no process to keep alive), leaves it out.
 *
 * @returns sets whether the timer is held.
 */
export function createHold(): (held: boolean) => void {
  let timer: ReturnType<typeof setInterval> | undefined
  return (held) => {
    if (held) timer ??= setInterval(() => {}, MAX_TIMER_MS)
    else {
      clearInterval(timer)
      timer = undefined
    }
  }
}
