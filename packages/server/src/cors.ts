/** Cross-origin access for browsers on other origins (a script tag on a customer's site). */
export interface CorsOptions {
  /**
   * Origins allowed: `'*'` for any (without credentials only), one origin, a list, or a predicate.
   * An allowed origin is echoed back; others get no CORS headers, so the browser refuses them.
   * @default '*'
   */
  origin?: string | readonly string[] | ((origin: string) => boolean)
  /**
   * Allow cookies and `Authorization` across origins. Requires an explicit `origin` list or
   * predicate: with `'*'`, any website could read a signed-in user's activities.
   * @default false
   */
  credentials?: boolean
  /** How long browsers may cache a preflight answer, in seconds. @default 600 */
  maxAgeSeconds?: number
}

/** The CORS behaviour of a handler, built once from its options. */
export interface Cors {
  /** The answer to an `OPTIONS` preflight for a path served with `methods` (`GET, DELETE`). */
  preflight(request: Request, methods: string): Response
  /** Adds the CORS headers `request` earns to `response`. */
  apply(request: Request, response: Response): Response
  /** The CORS headers a request with this `Origin` and method earns, for an answer without other `Vary`. */
  headers(origin: string | null | undefined, method: string): Record<string, string>
  /** Whether pages of `origin` may send credentialed requests: `credentials` is on and `origin` allowed. */
  trusts(origin: string): boolean
}

/**
 * Checks the CORS options and returns what applies them, or undefined when CORS is off.
 *
 * @throws TypeError when `credentials` is set without an explicit origin list or predicate.
 */
export function createCors(option: boolean | CorsOptions | undefined): Cors | undefined {
  if (!option) return undefined
  const options: CorsOptions = option === true ? {} : option
  const allowed = options.origin ?? '*'
  const credentials = options.credentials === true
  const anyOrigin = allowed === '*' || (Array.isArray(allowed) && allowed.includes('*'))
  if (credentials && anyOrigin) {
    throw new TypeError(
      "[usertracking] [server] options.cors.credentials needs options.cors.origin to list the allowed origins (or be a predicate): with '*' any website could read a signed-in user's activities.",
    )
  }
  if (typeof allowed !== 'string' && typeof allowed !== 'function' && !Array.isArray(allowed)) {
    throw new TypeError('[usertracking] [server] options.cors.origin must be an origin, a list of origins, or a predicate.')
  }
  const maxAge = String(options.maxAgeSeconds ?? 600)

  /** The `Access-Control-Allow-Origin` value `origin` earns, if any. */
  function allowOrigin(origin: string | null | undefined): string | undefined {
    if (allowed === '*') return '*'
    if (!origin) return undefined
    if (typeof allowed === 'string') return allowed === origin ? origin : undefined
    if (typeof allowed === 'function') return allowed(origin) ? origin : undefined
    return allowed.includes(origin) ? origin : undefined
  }

  function headers(origin: string | null | undefined, method: string): Record<string, string> {
    const earned: Record<string, string> = {}
    // The answer depends on Origin unless every origin gets `*`: shared caches must key on it,
    // or one site's allowed answer would be served to another site.
    const vary = [allowed === '*' ? undefined : 'Origin', method === 'OPTIONS' ? 'Access-Control-Request-Headers' : undefined].filter((name) => name !== undefined)
    if (vary.length > 0) earned.vary = vary.join(', ')
    const allowedOrigin = allowOrigin(origin)
    if (!allowedOrigin) return earned
    earned['access-control-allow-origin'] = allowedOrigin
    earned['access-control-expose-headers'] = 'Retry-After'
    if (credentials) earned['access-control-allow-credentials'] = 'true'
    return earned
  }

  return {
    headers,
    trusts: (origin) => credentials && allowOrigin(origin) === origin,
    preflight(request, methods) {
      return new Response(null, {
        status: 204,
        headers: {
          'access-control-allow-methods': `${methods}, OPTIONS`,
          'access-control-allow-headers': request.headers.get('access-control-request-headers') ?? 'content-type, authorization, last-event-id',
          'access-control-max-age': maxAge,
        },
      })
    },
    apply(request, response) {
      for (const [name, value] of Object.entries(headers(request.headers.get('origin'), request.method))) {
        if (name === 'vary') response.headers.append(name, value)
        else response.headers.set(name, value)
      }
      return response
    },
  }
}
