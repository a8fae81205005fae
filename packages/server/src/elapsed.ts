/** Milliseconds on a monotonic clock where the runtime has one (every target does; the fallback is for odd hosts). */
export function elapsedMs(): number {
  return typeof performance === 'undefined' ? Date.now() : performance.now()
}
