/** What {@link createHandOver} uses of the tracker (structural, so this file imports nothing from it). */
interface Delivering {
  flush(options: { timeoutMs?: number }): Promise<{ delivered: boolean }>
  stats(): { queued: number }
}

/**
 * Delivery handed to a platform's `waitUntil` (Vercel, Cloudflare's `ctx.waitUntil`): each
 * synchronous burst of `track()` calls starts a delivery of its own and hands it over. Not one
 * shared delivery: one started by an earlier request may never end where the platform cancelled
 * that request's timers and I/O, and a request handed it would be cancelled as hung.
 *
 * @param waitUntil - the platform's hook.
 * @param tracker - flushed until nothing is left to deliver (`stats().queued` is 0 once it is shut down).
 * @param timeoutMs - how long each flush may take: the write timeout.
 * @param report - receives the hook's own failure.
 * @returns what `track()` calls after queueing an activity.
 */
export function createHandOver(
  waitUntil: (promise: Promise<unknown>) => void,
  tracker: Delivering,
  timeoutMs: number,
  report: (error: unknown) => void,
): () => void {
  let burst = false
  return () => {
    if (burst) return
    burst = true
    queueMicrotask(() => {
      burst = false
    })
    const delivery = (async () => {
      while (tracker.stats().queued > 0 && (await tracker.flush({ timeoutMs })).delivered) {
        // Delivered what was due; go again for what was tracked meanwhile.
      }
    })()
    try {
      waitUntil(delivery)
    } catch (error) {
      report(error)
    }
  }
}
