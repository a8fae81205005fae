/**
 * The one export of the runtime's `cloudflare:workers` module this Worker uses. A project of your
 * own gets the full types from `@cloudflare/workers-types` or `wrangler types` instead.
 */
declare module 'cloudflare:workers' {
  /** Extends the current request's life until `promise` settles (up to 30 s after the response on Cloudflare). */
  export function waitUntil(promise: Promise<unknown>): void
}
