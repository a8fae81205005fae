import { UserTrackingError } from '@usertracking/core'

/**
 * What `@usertracking/firestore` throws for a mistake in how it is set up (an unknown `db`, an
 * invalid collection name) and what its sink reports as the `error` of a failed write, with the
 * SDK's error as `cause`. Expected write failures are never thrown: they come back as a `SinkResult`.
 */
export class FirestoreStoreError extends UserTrackingError {
  /** Always `FirestoreStoreError`. */
  override name = 'FirestoreStoreError'
  /** The Firestore status of the underlying error (`unavailable`, `permission-denied`, …), when there is one. */
  declare readonly code: FirestoreCode | undefined

  /**
   * @param message - what went wrong, as a sentence; the package prefix is added.
   * @param options - the underlying error, if any.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(`[usertracking] [firestore] ${message}`, options)
    this.code = firestoreCode(options?.cause)
  }
}

/**
 * The error a read throws for a query it cannot run as asked (a cursor it did not issue, an unknown
 * sort key, an invalid date): a `RangeError`, which the server handlers answer with 400.
 */
export function invalidQuery(message: string): RangeError {
  return new RangeError(`[usertracking] [firestore] ${message}`)
}

/** The canonical Firestore status codes, as the web SDK spells them. */
export type FirestoreCode =
  | 'cancelled'
  | 'unknown'
  | 'invalid-argument'
  | 'deadline-exceeded'
  | 'not-found'
  | 'already-exists'
  | 'permission-denied'
  | 'resource-exhausted'
  | 'failed-precondition'
  | 'aborted'
  | 'out-of-range'
  | 'unimplemented'
  | 'internal'
  | 'unavailable'
  | 'data-loss'
  | 'unauthenticated'

// firebase-admin (gRPC) reports the numeric status; the web SDK the name. Index = gRPC code.
const GRPC_CODES: readonly FirestoreCode[] = [
  'unknown', // 0 is OK, never an error
  'cancelled',
  'unknown',
  'invalid-argument',
  'deadline-exceeded',
  'not-found',
  'already-exists',
  'permission-denied',
  'resource-exhausted',
  'failed-precondition',
  'aborted',
  'out-of-range',
  'unimplemented',
  'internal',
  'unavailable',
  'data-loss',
  'unauthenticated',
]

/** The Firestore status of an SDK error, from either SDK; undefined for anything else. */
export function firestoreCode(error: unknown): FirestoreCode | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code
  if (typeof code === 'number') return code > 0 ? GRPC_CODES[code] : undefined
  if (typeof code === 'string') {
    const name = code.replace(/^firestore\//, '') as FirestoreCode
    return GRPC_CODES.includes(name) ? name : undefined
  }
  return undefined
}

/** How the sink treats a failed write. */
export type ErrorKind = 'exists' | 'document' | 'retryable' | 'permanent'

/**
 * Sorts a failed commit:
 * - `exists`: an activity of the batch is already stored (a retry); the sink skips the stored ones.
 * - `document`: something in a document (invalid argument, out of range, refused by the security
 *   rules), so the sink splits the batch to reject only the documents at fault.
 * - `permanent`: the write can never work as configured (no such database, not implemented).
 * - `retryable`: everything else: unavailable, deadline exceeded, resource exhausted, aborted,
 *   internal, unauthenticated (a token refreshes), and errors without a status (a closed client).
 *   A wrong `permanent` would drop activities for good; the tracker's retry limit bounds the rest.
 */
export function classifyError(error: unknown): ErrorKind {
  const code = firestoreCode(error)
  if (code === 'already-exists') return 'exists'
  if (code === 'invalid-argument' || code === 'permission-denied' || code === 'out-of-range') return 'document'
  if (code === 'not-found' || code === 'unimplemented' || code === 'failed-precondition' || code === 'data-loss') return 'permanent'
  return 'retryable'
}

/** The SDK's own words for an error, with its status. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const code = firestoreCode(error)
  return code && !message.includes(code) ? `${message} (${code})` : message
}
