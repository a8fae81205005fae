import { UserTrackingError } from '@usertracking/core'

/** One problem with a request, naming the field or query parameter it is about. */
export interface HttpIssue {
  /** Where: `['query', 'from']`, or a body path such as `[3, 'tokenUsage', 'input']`. */
  path: (string | number)[]
  /** What is wrong, as a sentence. */
  message: string
}

/** What {@link HttpError} takes beside its status and message. */
export interface HttpErrorOptions {
  /** The offending fields, sent to the client as `issues`. */
  issues?: HttpIssue[]
  /** Headers of the answer, such as `Retry-After` or `WWW-Authenticate`. */
  headers?: Record<string, string>
  /** The error behind this one, kept for logs and never sent to the client. */
  cause?: unknown
}

/**
 * Marks an HttpError across copies of this package (its ESM and CJS builds, two installed
 * versions), where `instanceof` would answer false.
 */
const MARKER = Symbol.for('usertracking.server.HttpError')

/**
 * An answer other than success: the handler turns it into a JSON response `{ error, issues? }`
 * with its status and headers. `authenticate`, presenters and other hooks may throw one to refuse
 * a request with a message of their own.
 */
export class HttpError extends UserTrackingError {
  override name = 'HttpError'
  /** The HTTP status to answer with (4xx or 5xx). */
  declare readonly status: number
  /** The offending fields, when the request was invalid. */
  declare readonly issues: HttpIssue[] | undefined
  /** Headers of the answer. */
  declare readonly headers: Record<string, string> | undefined

  /**
   * @param status - the HTTP status, 400–599.
   * @param message - a sentence for the client; `[usertracking] [server]` is put in front.
   * @param options - issues, headers and cause.
   */
  constructor(status: number, message: string, options: HttpErrorOptions = {}) {
    super(`[usertracking] [server] ${message}`, options.cause === undefined ? undefined : { cause: options.cause })
    this.status = status
    this.issues = options.issues
    this.headers = options.headers
    Object.defineProperty(this, MARKER, { value: true })
  }

  /** Whether `value` is an HttpError from any copy of this package. */
  static override isInstance(value: unknown): value is HttpError {
    return typeof value === 'object' && value !== null && (value as { [MARKER]?: unknown })[MARKER] === true
  }
}

/** The headers of every JSON answer: no cache may keep one. */
export const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }

/** A JSON answer, before it becomes a `Response` or is written to a node:http response directly. */
export interface JsonAnswer {
  status: number
  body: unknown
  /** Headers beside {@link JSON_HEADERS}, such as `Retry-After`. */
  headers?: Record<string, string> | undefined
}

/** The answer to an unexpected error (a bug, or a throwing hook), which says nothing of it. */
export const INTERNAL_ERROR: JsonAnswer = { status: 500, body: { error: '[usertracking] [server] Something went wrong on the server.' } }

/** A JSON answer that no cache keeps. */
export function jsonResponse(status: number, body: unknown, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } })
}

/** A {@link JsonAnswer} as a `Response`. */
export function answerResponse(answer: JsonAnswer): Response {
  return jsonResponse(answer.status, answer.body, answer.headers)
}

/** The client's view of an {@link HttpError}: `{ error, issues? }` with its status and headers. */
export function errorAnswer(error: HttpError): JsonAnswer {
  const body: { error: string; issues?: HttpIssue[] } = { error: error.message }
  if (error.issues) body.issues = error.issues
  return { status: error.status, body, headers: error.headers }
}

/** {@link errorAnswer} as a `Response`. */
export function errorResponse(error: HttpError): Response {
  return answerResponse(errorAnswer(error))
}

/** 400 for invalid query parameters, each issue naming its parameter. */
export function queryError(issues: HttpIssue[]): HttpError {
  return new HttpError(400, 'The query parameters are invalid; each issue names its parameter.', { issues })
}
