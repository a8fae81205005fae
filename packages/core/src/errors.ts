import type { ValidationIssue } from './normalize'
import { formatIssues } from './normalize'

/**
 * Base of every error usertracking reports. Messages name the package and, where there is one, the
 * adapter.
 *
 * Recognise one with `UserTrackingError.isInstance(error)` (or a subclass's `isInstance`) rather
 * than `instanceof`, which fails when two copies of this package are loaded (its ESM and CJS
 * builds, or two versions): each class marks its instances with a `Symbol.for` key, the same in
 * every copy.
 */
export class UserTrackingError extends Error {
  /** The class's name, which is also its errors' `name` and the key of its marker. */
  static readonly kind: string = 'UserTrackingError'
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.kind
    for (let type = new.target; type !== (Error as unknown); type = Object.getPrototypeOf(type)) {
      ;(this as Record<symbol, unknown>)[Symbol.for(`usertracking.error.${type.kind}`)] = true
    }
  }

  /** Whether `value` is an instance of this class (or a subclass), from any copy of this package. */
  static isInstance(value: unknown): value is UserTrackingError {
    // `this` is the class it is called on, so every subclass checks its own marker.
    return (value as Record<symbol, unknown> | null)?.[Symbol.for(`usertracking.error.${this.kind}`)] === true
  }
}

/** An input was rejected; `issues` name each offending field. */
export class ValidationError extends UserTrackingError {
  static override readonly kind: string = 'ValidationError'
  /** Whether `value` is a `ValidationError`, from any copy of this package. */
  declare static isInstance: (value: unknown) => value is ValidationError
  declare readonly issues: ValidationIssue[]
  declare readonly value: unknown
  constructor(issues: ValidationIssue[], value: unknown) {
    super(`[usertracking] Invalid activity: ${formatIssues(issues)}`)
    this.issues = issues
    this.value = value
  }
}

/** A sink failed, threw, or timed out; `sinkName` says which. */
export class SinkError extends UserTrackingError {
  static override readonly kind: string = 'SinkError'
  /** Whether `value` is a `SinkError`, from any copy of this package. */
  declare static isInstance: (value: unknown) => value is SinkError
  declare readonly sinkName: string
  constructor(sinkName: string, message: string, cause?: unknown) {
    super(`[usertracking] [${sinkName}] ${message}`, { cause })
    this.sinkName = sinkName
  }
}

/** The storage failed to load, add or remove; delivery goes on from memory. */
export class StorageError extends UserTrackingError {
  static override readonly kind: string = 'StorageError'
  /** Whether `value` is a `StorageError`, from any copy of this package. */
  declare static isInstance: (value: unknown) => value is StorageError
  constructor(message: string, cause?: unknown) {
    super(`[usertracking] [storage] ${message}`, { cause })
  }
}
