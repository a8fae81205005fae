/**
 * Delivery handed to a platform's `waitUntil` (Vercel, Cloudflare's `ctx.waitUntil`): each
 * synchronous burst of `track()` calls starts a delivery of its own and hands it over. Not one
 * shared delivery: one started by an earlier request may never end where the platform cancelled
 * that request's timers and I/O, and a request handed it would be cancelled as hung.
 *
 * @param waitUntil - the platform's hook.
 * @param flush - flushes within the write timeout.
 * @param pending - whether anything is left to deliver.
 * @param report - receives the hook's own failure.
 * @returns what `track()` calls after queueing an activity.
 */
export function createHandOver(
  waitUntil: (promise: Promise<unknown>) => void,
  flush: () => Promise<{ delivered: boolean }>,
  pending: () => boolean,
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
      while (pending() && (await flush()).delivered) {
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
