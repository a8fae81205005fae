import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { runWithContext, type RequestContext } from './request-context'

/** Options of {@link contextMiddleware}. */
export interface ContextMiddlewareOptions {
  /**
   * The request header whose value becomes `requestId` (so a proxy's or a client's id carries
   * through); a fresh UUID when it is missing. `false` always makes a fresh one. @default 'x-request-id'
   */
  requestIdHeader?: string | false
  /**
   * Takes the client IP from the first `X-Forwarded-For` entry instead of the socket. Only enable
   * it behind a proxy you run: anyone can send that header. @default false
   */
  trustProxy?: boolean
  /**
   * Reads more of the context from the request, e.g. `(req) => ({ userId: req.headers['x-user-id'] })`
   * or a session cookie. Whatever it returns wins over the defaults. For a user known only after
   * a later middleware (authentication), call `updateContext` there instead.
   */
  resolve?: (request: IncomingMessage) => RequestContext | undefined
}

/** A connect-style middleware: Express, or node:http with `(req, res) => middleware(req, res, () => handle(req, res))`. */
export type ContextMiddleware = (request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => void

const MAX_REQUEST_ID_LENGTH = 200

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/**
 * Runs the rest of each request inside {@link runWithContext} with a `requestId` and the client's
 * `ip` and `userAgent` (in `context`), plus whatever `options.resolve` reads, so every activity the
 * request tracks carries them.
 *
 * With Express: `app.use(contextMiddleware())` before the routes. With node:http:
 * `http.createServer((req, res) => middleware(req, res, () => handle(req, res)))`.
 *
 * @param options - see {@link ContextMiddlewareOptions}.
 */
export function contextMiddleware(options: ContextMiddlewareOptions = {}): ContextMiddleware {
  const requestIdHeader = options.requestIdHeader === undefined ? 'x-request-id' : options.requestIdHeader
  const headerName = requestIdHeader === false ? undefined : requestIdHeader.toLowerCase()
  return (request, _response, next) => {
    let fields: RequestContext
    try {
      const given = headerName ? header(request, headerName)?.trim() : undefined
      const requestId = given && given.length <= MAX_REQUEST_ID_LENGTH ? given : randomUUID()
      const forwarded = options.trustProxy ? header(request, 'x-forwarded-for')?.split(',')[0]?.trim() : undefined
      const ip = forwarded || request.socket?.remoteAddress
      const userAgent = header(request, 'user-agent')
      const context: RequestContext['context'] = {}
      if (ip) context.ip = ip
      if (userAgent) context.userAgent = userAgent
      fields = { requestId, context }
      const resolved = options.resolve?.(request)
      if (resolved) {
        fields = { ...fields, ...resolved, context: { ...context, ...resolved.context } }
      }
    } catch (error) {
      // A broken resolver must not fail the request it only describes.
      fields = { requestId: randomUUID() }
      process.emitWarning(new Error('[usertracking] [node] contextMiddleware could not read the request context.', { cause: error }))
    }
    runWithContext(fields, () => next())
  }
}
