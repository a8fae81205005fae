import type { ValidationIssue } from './normalize'
import { formatIssues } from './normalize'

/** Base of every error usertracking reports. Messages name the package and, where there is one, the adapter. */
export class UserTrackingError extends Error {
  override name = 'UserTrackingError'
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
  }
}

/** A sink failed, threw, or timed out; `sinkName` says which. */
export class SinkError extends UserTrackingError {
  override name = 'SinkError'
  declare readonly sinkName: string
  constructor(sinkName: string, message: string, cause?: unknown) {
    super(`[usertracking] [${sinkName}] ${message}`, { cause })
    this.sinkName = sinkName
  }
}

/** The storage failed to load, add or remove; delivery goes on from memory. */
export class StorageError extends UserTrackingError {
  override name = 'StorageError'
  constructor(message: string, cause?: unknown) {
    super(`[usertracking] [storage] ${message}`, { cause })
  }
}
