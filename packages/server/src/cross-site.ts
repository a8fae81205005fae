/** A request header, by its lower-case name. */
type HeaderOf = (name: string) => string | null | undefined

/**
 * Whether a body of this content type needs a CORS preflight when a page on another origin sends
 * it: JSON does; `text/plain` (what `navigator.sendBeacon` and a form can send) does not, so any
 * website can make a browser send it, cookies attached.
 */
export function needsPreflight(contentType: string | null | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))
}

/**
 * Whether a browser sent this request from a page of another origin that the app does not trust
 * with credentials. `Sec-Fetch-Site` says it where browsers send it (all current ones); otherwise
 * `Origin` is compared with the request's own host (`Host`, else the request URL's). A request
 * with neither header did not come from a web page (a backend, curl), and is no cross-site forgery.
 *
 * @param header - reads a request header.
 * @param trusted - whether an origin may send credentialed requests (the CORS `origin` list with `credentials`).
 * @param url - the request's URL, read only when there is no `Host` header.
 */
export function fromAnotherSite(header: HeaderOf, trusted: (origin: string) => boolean, url: () => string): boolean {
  const site = header('sec-fetch-site') || undefined
  if (site === 'same-origin' || site === 'none') return false
  const origin = header('origin') || undefined
  if (origin !== undefined && origin !== 'null' && trusted(origin)) return false
  if (site !== undefined) return true
  if (origin === undefined) return false
  // `null`: a sandboxed frame, a redirect across origins, a file: page.
  if (origin === 'null') return true
  try {
    return new URL(origin).host !== (header('host') || new URL(url()).host)
  } catch {
    return true
  }
}
