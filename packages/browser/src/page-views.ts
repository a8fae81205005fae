import type { ActivityInput } from '@usertracking/core'

/** The page lifecycle: `page_visit` per page, `time_on_page` with the visible time spent on it. */
export interface PageViews {
  /** Records a visit if the URL changed since the last one, first closing the previous page's time. */
  visit(): void
  /** The page is hidden or left: sends the visible time since the last report. */
  hide(): void
  /** The page is visible again: counts time from now. */
  show(): void
}

/**
 * Tracks page visits and engaged time. Time counts only while the document is visible, so a tab
 * left in the background all afternoon does not report an afternoon of reading. A page that is
 * hidden and shown again reports each visible stretch when it ends; their sum is the time on page.
 *
 * @param track - receives each activity.
 * @param enabled - reads the current switches, so `config()` can turn them off at run time.
 * @param strip - removes what a URL must not carry (see `pageUrl`), for `referrer` and `context.url`.
 */
export function pageViews(
  track: (input: ActivityInput) => void,
  enabled: (key: 'trackPageViews' | 'trackTimeOnPage') => boolean,
  strip: (href: string) => string,
): PageViews {
  let href: string | undefined
  let path = ''
  let url = ''
  let visibleSince = 0

  const show = () => {
    if (document.visibilityState === 'visible') visibleSince ||= Date.now()
  }
  const hide = () => {
    const visibleMs = visibleSince && Date.now() - visibleSince
    visibleSince = 0
    if (visibleMs > 0 && href && enabled('trackTimeOnPage')) {
      // The page left, which on a single-page navigation is no longer the one in the address bar.
      track({ activityType: 'time_on_page', durationMs: visibleMs, context: { page: path, url } })
    }
  }

  return {
    visit() {
      if (location.href === href) return
      const referrer = strip(href ?? document.referrer)
      hide()
      href = location.href
      path = location.pathname
      url = strip(href)
      show()
      if (enabled('trackPageViews')) {
        track({
          activityType: 'page_visit',
          // A fragment holding parameters (`#access_token=…`, as sign-in redirects send) is left out.
          metadata: { path, title: document.title, referrer, hash: location.hash.includes('=') ? undefined : location.hash || undefined },
        })
      }
    },
    hide,
    show,
  }
}
