const MARKER = Symbol.for('usertracking.client.error')

/** One problem the server found with a request, naming the parameter (`['query', 'from']`). */
export interface ActivityClientIssue {
  path: (string | number)[]
  message: string
}

/**
 * A request of the activity client that failed: the server answered with an error status
 * (`status` set, `issues` when it named them), the network failed, or the request timed out
 * (`status` 0). Recognise it with {@link ActivityClientError.isInstance}, which also works across
 * duplicated copies of this package.
 */
export class ActivityClientError extends Error {
  override name = 'ActivityClientError'
  /** The HTTP status, or 0 when no answer came (network failure, timeout). */
  declare readonly status: number
  /** What the server said was wrong, field by field, for a 400. */
  declare readonly issues: ActivityClientIssue[] | undefined
  declare readonly [MARKER]: true

  constructor(message: string, status: number, issues?: ActivityClientIssue[], cause?: unknown) {
    super(`[usertracking] [client] ${message}`, { cause })
    this.status = status
    this.issues = issues
    Object.defineProperty(this, MARKER, { value: true })
  }

  /** Whether `value` is an {@link ActivityClientError} from any copy of this package. */
  static isInstance(value: unknown): value is ActivityClientError {
    return typeof value === 'object' && value !== null && (value as { [MARKER]?: unknown })[MARKER] === true
  }
}
