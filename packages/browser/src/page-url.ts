/** The query parameters {@link pageUrl} keeps unless told otherwise: campaign tags, which name no one. */
export const KEEP_QUERY_PARAMETERS = ['utm_*']

/**
 * `href` without its `#fragment` and without every query parameter but those `keep` names (a name,
 * or a prefix ending in `*`): URLs carry tokens, e-mail addresses and password-reset codes, which
 * have no place in analytics. An empty or unparsable `href` gives `''`.
 *
 * @param href - an absolute URL, e.g. `location.href` or `document.referrer`.
 * @param keep - names or `prefix*` patterns of the parameters to keep. @default ['utm_*']
 */
export function pageUrl(href: string, keep: string[] = KEEP_QUERY_PARAMETERS): string {
  try {
    const url = new URL(href)
    for (const name of [...url.searchParams.keys()]) {
      if (!keep.some((pattern) => (pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern))) {
        url.searchParams.delete(name)
      }
    }
    url.hash = ''
    return url.href
  } catch {
    return ''
  }
}
