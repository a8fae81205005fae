import { useSyncExternalStore, type MouseEvent } from 'react'

/** The app's pages, by path. */
export type PagePath = '/' | '/activities' | '/admin'

const CHANGE = 'demo:navigate'

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange)
  window.addEventListener(CHANGE, onChange)
  return () => {
    window.removeEventListener('popstate', onChange)
    window.removeEventListener(CHANGE, onChange)
  }
}

/** The current path; re-renders on navigation and on the back button. */
export function usePath(): string {
  return useSyncExternalStore(subscribe, () => window.location.pathname)
}

/**
 * Goes to a page without reloading: `history.pushState`, which the script-tag tracker sees as a
 * page view (and the end of the previous page's time on page).
 */
export function navigate(path: PagePath): void {
  if (window.location.pathname === path && !window.location.search) return
  window.history.pushState(null, '', path)
  window.dispatchEvent(new Event(CHANGE))
  window.scrollTo(0, 0)
}

/** A link's click handler that navigates in the page, leaving modified clicks (new tab) to the browser. */
export function onLinkClick(path: PagePath) {
  return (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    event.preventDefault()
    navigate(path)
  }
}
