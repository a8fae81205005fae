import type { ValidationIssue } from './normalize'
import { formatIssues } from './normalize'

const marker = (name: string) => Symbol.for(`usertracking.error.${name}`)

/**
 * Whether `value` carries the marker of the error class `name`. `instanceof` fails when two copies
 * of this package are loaded (its ESM and CJS builds, or two versions); a `Symbol.for` key is the
 * same in every copy.
 */
function hasMarker(value: unknown, name: string): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker(name)] === true
}

/** Base of every error usertracking reports. Messages name the package and, where there is one, the adapter. */
export class UserTrackingError extends Error {
  override name = 'UserTrackingError'
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options)
    ;(this as Record<symbol, unknown>)[marker('UserTrackingError')] = true
  }

  /** Whether `value` is a `UserTrackingError` (or a subclass), from any copy of this package. */
  static isInstance(value: unknown): value is UserTrackingError {
    return hasMarker(value, 'UserTrackingError')
  }
}

/** An input was rejected; `issues` name each offending field. */
export class ValidationError extends UserTrackingError {
  override name = 'ValidationError'
  declare readonly issues: ValidationIssue[]
  declare readonly value: unknown
  constructor(issues: ValidationIssue[], value: unknown) {
    super(`[usertracking] Invalid activity: ${formatIssues(issues)}`)
    this.issues = issues
    this.value = value
    ;(this as Record<symbol, unknown>)[marker('ValidationError')] = true
  }

  /** Whether `value` is a `ValidationError`, from any copy of this package. */
  static override isInstance(value: unknown): value is ValidationError {
    return hasMarker(value, 'ValidationError')
  }
}

/** A sink failed, threw, or timed out; `sinkName` says which. */
export class SinkError extends UserTrackingError {
  override name = 'SinkError'
  declare readonly sinkName: string
  constructor(sinkName: string, message: string, cause?: unknown) {
    super(`[usertracking] [${sinkName}] ${message}`, { cause })
    this.sinkName = sinkName
    ;(this as Record<symbol, unknown>)[marker('SinkError')] = true
  }

  /** Whether `value` is a `SinkError`, from any copy of this package. */
  static override isInstance(value: unknown): value is SinkError {
    return hasMarker(value, 'SinkError')
  }
}

/** The storage failed to load, add or remove; delivery goes on from memory. */
export class StorageError extends UserTrackingError {
  override name = 'StorageError'
  constructor(message: string, cause?: unknown) {
    super(`[usertracking] [storage] ${message}`, { cause })
    ;(this as Record<symbol, unknown>)[marker('StorageError')] = true
  }

  /** Whether `value` is a `StorageError`, from any copy of this package. */
  static override isInstance(value: unknown): value is StorageError {
    return hasMarker(value, 'StorageError')
  }
}
