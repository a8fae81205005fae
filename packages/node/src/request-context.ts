import { AsyncLocalStorage } from 'node:async_hooks'
import type { ActivityContext, JsonObject, TrackerDefaults } from '@usertracking/core'

/**
 * Who and where, for everything tracked while handling one request or job. Fields an activity
 * sets itself win over these.
 */
export interface RequestContext {
  /** The signed-in user. */
  userId?: string | number
  /** The user's session (for an LLM gateway, the chat session). */
  sessionId?: string | number
  /** A visitor who is not signed in. */
  anonymousId?: string
  /**
   * Correlates the activities of one request with its logs. Recorded as `context.requestId`: like
   * the IP and the user agent it says where an activity happened rather than what it was, and
   * `metadata` stays the caller's own.
   */
  requestId?: string
  /** Merged under each activity's `context` (ip, user agent, …). */
  context?: ActivityContext
  /** Merged under each activity's `metadata`. */
  metadata?: JsonObject
}

interface Scope {
  fields: RequestContext
  /** The tracker defaults these fields make, built once per change rather than per `track()`. */
  defaults: TrackerDefaults
}

const storage = new AsyncLocalStorage<Scope>()

function toDefaults(fields: RequestContext): TrackerDefaults {
  const defaults: TrackerDefaults = {}
  if (fields.userId !== undefined) defaults.userId = fields.userId
  if (fields.sessionId !== undefined) defaults.sessionId = fields.sessionId
  if (fields.anonymousId !== undefined) defaults.anonymousId = fields.anonymousId
  if (fields.context !== undefined || fields.requestId !== undefined) {
    defaults.context = fields.requestId === undefined ? { ...fields.context } : { ...fields.context, requestId: fields.requestId }
  }
  if (fields.metadata !== undefined) defaults.metadata = { ...fields.metadata }
  return defaults
}

function merge(outer: RequestContext | undefined, inner: RequestContext): RequestContext {
  if (!outer) return { ...inner }
  const merged: RequestContext = { ...outer }
  for (const key of Object.keys(inner) as (keyof RequestContext)[]) {
    if (inner[key] !== undefined) (merged as Record<string, unknown>)[key] = inner[key]
  }
  if (outer.context && inner.context) merged.context = { ...outer.context, ...inner.context }
  if (outer.metadata && inner.metadata) merged.metadata = { ...outer.metadata, ...inner.metadata }
  return merged
}

/**
 * Runs `fn` with `fields` as the request context: every `track()` and `withActivity` call of a
 * tracker made by `createNodeTracker` inside it — however deep, across `await`s, timers and event
 * emitters created inside — inherits them. Nested calls merge over the outer context.
 *
 * @param fields - the user, session, request id, context and metadata to inherit.
 * @param fn - the work to run; its return value is returned.
 */
export function runWithContext<R>(fields: RequestContext, fn: () => R): R {
  const merged = merge(storage.getStore()?.fields, fields)
  return storage.run({ fields: merged, defaults: toDefaults(merged) }, fn)
}

/**
 * Changes the current request context in place, for what becomes known part-way through a
 * request: the user once an authentication middleware ran, the session once it was created.
 * Returns `false` (and changes nothing) outside {@link runWithContext}.
 *
 * @param fields - the fields to set or replace.
 */
export function updateContext(fields: RequestContext): boolean {
  const scope = storage.getStore()
  if (!scope) return false
  scope.fields = merge(scope.fields, fields)
  scope.defaults = toDefaults(scope.fields)
  return true
}

/** The current request context, or `undefined` outside {@link runWithContext}. */
export function currentContext(): Readonly<RequestContext> | undefined {
  return storage.getStore()?.fields
}

/**
 * The current context as tracker `defaults` (`requestId` inside `context`), or `undefined`. Pass
 * it to `createTracker({ defaults: contextDefaults })` to get context inheritance without
 * `createNodeTracker`. Do not mutate the result: it is shared by every `track()` of the request.
 */
export function contextDefaults(): TrackerDefaults | undefined {
  return storage.getStore()?.defaults
}
