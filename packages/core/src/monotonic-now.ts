/**
 * Milliseconds on a monotonic clock (`performance.now()`), for measuring how long something took:
 * unlike `Date.now()` it never jumps when the wall clock is set. Falls back to `Date.now()` on a host
 * without `performance` (every target has it).
 *
 * Pure, so a bundle that never calls it leaves it out: a top-level read of `performance.now` is a
 * side effect to a bundler.
 */
export const monotonicNow: () => number = /* @__PURE__ */ (() =>
  typeof performance !== 'undefined' && typeof performance.now === 'function' ? () => performance.now() : () => Date.now())()
