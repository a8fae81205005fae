import type { LiteTrackingOptions } from './options'
import { pageUrl } from './page-url'

const NAVIGATE = 'usertracking:navigate'

let historyPatched = false

/**
 * Adds a listener the caller can remove (through an `AbortSignal`) and that cannot throw into the
 * page. Capturing, so that the page's own `stopPropagation` does not hide an event.
 */
export type Listen = (target: EventTarget, type: string, handler: (event: Event) => void) => void

/**
 * Calls `visit` after every single-page navigation: `pushState` and `replaceState` (which fire no
 * event of their own, so they are wrapped, once per page), `popstate` and `hashchange`. One task
 * later, so that the app has set the new title by then.
 */
export function onNavigation(listen: Listen, visit: () => void): void {
  if (!historyPatched) {
    historyPatched = true
    for (const method of ['pushState', 'replaceState'] as const) {
      const original = history[method]
      history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
        original.apply(this, args)
        dispatchEvent(new Event(NAVIGATE))
      }
    }
  }
  for (const type of [NAVIGATE, 'popstate', 'hashchange']) listen(window, type, () => setTimeout(visit))
}

/**
 * Where an activity happened, as every activity of a page carries it in `context`. The user agent
 * is not among them: the lite build leaves it to the server, which reads the request's header.
 */
export function pageContext(options: LiteTrackingOptions): { page: string; host: string; url: string } {
  return { page: location.pathname, host: location.host, url: pageUrl(location.href, options.keepQueryParameters) }
}

