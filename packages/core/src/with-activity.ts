import type { ActivityInput, JsonObject, TokenUsage } from './activity'
import type { Tracker } from './tracker'
import { addUsage, completeUsage, usageOf, type PartialUsage } from './usage'
import { monotonicNow } from './monotonic-now'
import { uuidv7 } from './uuid'

/**
 * What a function wrapped by {@link withActivity} can tell about the activity while it runs.
 * Every method is safe to call at any time, including after the activity was recorded (the call
 * is then ignored).
 */
export interface ActivityScope {
  /** The id the activity will be recorded under. */
  readonly activityId: string
  /** Sets the user, e.g. once authentication inside the function resolved it. */
  setUserId(userId: string | number): void
  /** Sets the session. */
  setSessionId(sessionId: string | number): void
  /** Sets the description. */
  setDescription(description: string): void
  /**
   * Replaces the token usage (a total, or input / output / total and model). Once the function
   * set or added usage itself, the usage found on its result is ignored.
   */
  setTokenUsage(usage: number | Partial<TokenUsage>): void
  /** Adds to the token usage, for streams counted chunk by chunk. */
  addTokenUsage(usage: number | Partial<TokenUsage>): void
  /** Merges fields into the metadata. */
  setMetadata(metadata: JsonObject): void
}

/** A value, or a function of the wrapped function's arguments that returns it. */
export type FromArgs<Args extends unknown[], T> = T | ((...args: Args) => T)

/** Options of {@link withActivity}. Each may be a value or a function of the call's arguments. */
export interface WithActivityOptions<Args extends unknown[]> {
  /** The activity type, e.g. `chat_completion`. */
  activityType: FromArgs<Args, string>
  /** The user, e.g. `(req) => req.user.id`. */
  userId?: FromArgs<Args, string | number | undefined>
  /** The session. */
  sessionId?: FromArgs<Args, string | number | undefined>
  /** The description. */
  description?: FromArgs<Args, string | undefined>
  /** Metadata recorded with every call. */
  metadata?: FromArgs<Args, JsonObject | undefined>
  /**
   * Finds token usage on the result and on each stream chunk (for an AI SDK `streamText` result:
   * on `{ totalUsage, response }` once the stream ended), in place of the built-in reader.
   * @default the built-in reader of OpenAI, Anthropic and Vercel AI SDK shapes (`extractUsage`).
   */
  usage?: (result: unknown) => Partial<TokenUsage> | undefined
}

/**
 * `fn`'s parameters without a trailing {@link ActivityScope}: what callers of the wrapped function
 * pass. A last parameter typed `any`, `unknown` or `object` is the caller's, not the scope.
 */
export type WithoutScope<P extends unknown[]> = P extends [...infer Rest, infer Last]
  ? 0 extends 1 & Last
    ? P
    : [Last] extends [ActivityScope]
      ? Rest
      : P
  : P

type Thenable = PromiseLike<unknown>
type Listener = (...values: unknown[]) => void

function isObject(value: unknown): value is Record<PropertyKey, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null
}

function isThenable(value: unknown): value is Thenable {
  try {
    return isObject(value) && typeof value.then === 'function'
  } catch {
    return false
  }
}

function toUsage(usage: number | Partial<TokenUsage>): PartialUsage {
  return typeof usage === 'number' ? { total: usage } : usage
}

/** Sets an own property on `target`; `false` when the object refuses (frozen, sealed, a proxy). */
function defineOwn(target: object, key: PropertyKey, value: unknown): boolean {
  try {
    Object.defineProperty(target, key, { value, configurable: true, writable: true })
    return true
  } catch {
    return false
  }
}

/** The caller aborted (an `AbortSignal`'s default reason): abandoned, not failed. */
function isAbort(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'AbortError'
}

/**
 * Wraps `fn` so that every call is recorded as one activity: `timestamp`, `endTime`, `durationMs`
 * (from a monotonic clock), `status` and `error`, and the token usage and model found on the
 * result. The wrapped function keeps `fn`'s parameters and return type, and gives the caller what
 * `fn` returned:
 *
 * - a sync `fn` stays sync; a thrown error is rethrown unchanged.
 * - a native promise is returned as a promise of the same outcome (the original error, unchanged;
 *   a rejection nobody handles stays unhandled, exactly as without the wrapper).
 * - any other thenable is returned itself and observed through the caller's own use of it: an
 *   OpenAI or Anthropic `APIPromise` keeps `.withResponse()` and `.asResponse()`, and a lazy
 *   thenable (a query builder) runs only when the caller awaits it.
 * - a stream is returned itself and timed until it ends, with usage taken from its events: OpenAI
 *   `stream: true` chunks and Responses events, Anthropic `stream: true` events, the SDKs' stream
 *   helpers (`messages.stream()`, `chat.completions.stream()`, `responses.stream()`) however they
 *   are consumed, and the AI SDK's `streamText` result once the caller has read it to the end.
 *
 * Nothing is read twice and no work is started that the caller did not ask for; every promise the
 * wrapper touches has a rejection handler. A stream the caller stops early (`break`, `abort()`) is
 * recorded as a success with the usage seen so far. See docs/llm.md.
 *
 * **The scope argument.** `fn` receives an {@link ActivityScope} as one extra argument after its own:
 * declare it as the last parameter (`async (input, scope) => …`), after any optional ones. The
 * wrapped function's type is `fn`'s without that last parameter, so callers never see it.
 *
 * Tracking never delays the caller and tracking errors never reach it.
 *
 * @param tracker - where the activity is tracked.
 * @param options - the activity's type and fields, each a value or a function of the arguments.
 * @param fn - the function to measure.
 */
export function withActivity<F extends (...args: any[]) => any>(
  tracker: Pick<Tracker, 'track'>,
  options: WithActivityOptions<WithoutScope<Parameters<F>>>,
  fn: F,
): (...args: WithoutScope<Parameters<F>>) => ReturnType<F> {
  // Where the scope goes: right after the parameters `fn` declares before it.
  const scopeIndex = Math.max(0, fn.length - 1)

  return function wrapped(this: unknown, ...args: unknown[]): ReturnType<F> {
    const argCount = args.length
    const run = new ActivityRun(tracker, options as WithActivityOptions<unknown[]>, args, argCount)
    // The rest array is this call's own, so the scope goes into it (option functions still see
    // only the caller's arguments: ActivityRun passes them the first argCount).
    if (argCount === scopeIndex) args.push(run)
    else {
      if (argCount < scopeIndex) args.length = scopeIndex
      args.splice(Math.max(scopeIndex, argCount), 0, run)
    }
    let result: unknown
    try {
      result = (fn as (...values: unknown[]) => unknown).apply(this, args)
    } catch (error) {
      run.record('error', error)
      throw error
    }
    return (isThenable(result) ? run.settleThenable(result) : run.finish(result)) as ReturnType<F>
  }
}

/**
 * One call of a wrapped function: its clock, what the function told through the scope, and the
 * recording at the end. A class, so a call allocates one object rather than a dozen closures.
 */
class ActivityRun implements ActivityScope {
  private readonly startedAt = Date.now()
  private readonly startedMono = monotonicNow()
  private recorded = false
  /** Usage set through the scope; the result's is then ignored. */
  private usageFromScope = false
  private usage: PartialUsage | undefined
  private fields: ActivityInput | undefined
  private metadata: JsonObject | undefined
  /** Made only when the function asks for it; otherwise track() makes the id, and checks none. */
  private id: string | undefined

  constructor(
    private readonly tracker: Pick<Tracker, 'track'>,
    private readonly options: WithActivityOptions<unknown[]>,
    private readonly args: unknown[],
    private readonly argCount: number,
  ) {}

  get activityId(): string {
    return (this.id ??= uuidv7(this.startedAt))
  }

  setUserId(userId: string | number): void {
    ;(this.fields ??= {}).userId = userId
  }

  setSessionId(sessionId: string | number): void {
    ;(this.fields ??= {}).sessionId = sessionId
  }

  setDescription(description: string): void {
    ;(this.fields ??= {}).description = description
  }

  setTokenUsage(usage: number | Partial<TokenUsage>): void {
    this.usageFromScope = true
    this.usage = { model: this.usage?.model, ...toUsage(usage) }
  }

  addTokenUsage(usage: number | Partial<TokenUsage>): void {
    this.usageFromScope = true
    this.usage = addUsage(this.usage, toUsage(usage))
  }

  setMetadata(metadata: JsonObject): void {
    this.metadata = { ...this.metadata, ...metadata }
  }

  /** Takes the usage found on a stream chunk or event. */
  observe(value: unknown): void {
    if (this.usageFromScope || this.recorded) return
    try {
      const reader = this.options.usage
      this.take(reader ? reader(value) : isObject(value) ? usageOf(value, value.usage) : undefined)
    } catch {
      // A custom usage reader that throws only loses the usage.
    }
  }

  /** Takes the usage found on a result whose `usage` property was already read, so no getter runs twice. */
  private observeResult(result: Record<PropertyKey, unknown>, usage: unknown): void {
    if (this.usageFromScope) return
    try {
      const reader = this.options.usage
      this.take(reader ? reader(result) : usageOf(result, usage))
    } catch {
      // As above.
    }
  }

  private take(found: PartialUsage | undefined): void {
    if (!found) return
    // Merged in place: this object is the run's own, and a stream may bring thousands of chunks.
    const current = (this.usage ??= {})
    for (const key in found) {
      const field = found[key as keyof PartialUsage]
      if (field !== undefined) (current as Record<string, unknown>)[key] = field
    }
  }

  /** A thenable `fn` returned: observed, and what the caller gets is as described on withActivity. */
  settleThenable(thenable: Thenable): unknown {
    const onRejected = (error: unknown) => {
      this.record('error', error)
      throw error
    }
    // A native promise: a derived promise keeps "unhandled if the caller ignores it" intact,
    // which observing the original with a rejection handler would silently change.
    if (Object.getPrototypeOf(thenable) === Promise.prototype) {
      return (thenable as Promise<unknown>).then((value) => this.finish(value), onRejected)
    }
    try {
      if (this.hookApiPromise(thenable) || this.hookThen(thenable)) return thenable
    } catch {
      // Properties that throw when read: treated as frozen.
    }
    // A frozen custom thenable cannot be observed in place; a promise of it is the honest fallback.
    return Promise.resolve(thenable).then((value) => this.finish(value), onRejected)
  }

  /**
   * The OpenAI and Anthropic SDKs' `APIPromise`: the response body is parsed only when the caller
   * asks (`then`, `withResponse()`), and `asResponse()` hands the body over unread, so the run
   * hooks those calls on this instance instead of parsing the body itself.
   */
  private hookApiPromise(thenable: Thenable): boolean {
    const target = thenable as unknown as Record<string, unknown>
    const parse = target.parse
    const asResponse = target.asResponse
    if (!(thenable instanceof Promise) || typeof parse !== 'function' || typeof asResponse !== 'function') return false
    let parsing = false
    const run = this
    const hooked =
      defineOwn(target, 'parse', function (this: unknown) {
        const parsed = (parse as () => Thenable).call(this)
        if (!parsing) {
          parsing = true
          parsed.then(
            (value) => run.finish(value),
            (error: unknown) => run.record('error', error),
          )
        }
        return parsed
      }) &&
      defineOwn(target, 'asResponse', function (this: unknown) {
        const response = (asResponse as () => Thenable).call(this)
        // withResponse() asks for both; the parsed body carries the usage, so it records.
        if (parsing) return response
        return response.then(
          (value) => {
            run.record('success')
            return value
          },
          (error: unknown) => {
            run.record('error', error)
            throw error
          },
        )
      })
    return hooked
  }

  /** Any other thenable: observed through the caller's own `then` calls, so it runs only if they await it. */
  private hookThen(thenable: Thenable): boolean {
    const then = thenable.then
    const run = this
    return defineOwn(thenable, 'then', function (this: unknown, onFulfilled?: (value: unknown) => unknown, onRejected?: (error: unknown) => unknown) {
      return then.call(
        this,
        (value) => {
          run.finish(value)
          return typeof onFulfilled === 'function' ? onFulfilled(value) : value
        },
        (error: unknown) => {
          run.record('error', error)
          if (typeof onRejected === 'function') return onRejected(error)
          throw error
        },
      )
    })
  }

  /** The value `fn` produced (or its promise resolved to): recorded now, or once its stream ends. */
  finish(value: unknown): unknown {
    try {
      return this.follow(value)
    } catch {
      // A result whose properties throw when looked at (a revoked proxy): recorded without usage.
      this.record('success')
      return value
    }
  }

  private follow(value: unknown): unknown {
    if (typeof value !== 'object' || value === null) {
      this.record('success')
      return value
    }
    const result = value as Record<PropertyKey, unknown>
    // `in` reads no getter: an AI SDK stream result starts its stream from any of its promise getters.
    if ('textStream' in result && 'totalUsage' in result) {
      this.observeAiStream(result)
      return value
    }
    if (typeof result.on === 'function' && typeof result.done === 'function' && 'ended' in result) {
      this.observeEventStream(result)
      return value
    }
    if (typeof result[Symbol.asyncIterator] === 'function') return timeStream(value as AsyncIterable<unknown>, this)
    let usage: unknown
    try {
      usage = result.usage
    } catch {
      // A throwing getter only loses the usage.
    }
    this.observeResult(result, usage)
    if (isThenable(usage) && !this.usageFromScope) {
      // A usage promise (AI SDK v4 streams): settles when the stream ends.
      usage.then(
        (resolved) => {
          this.observe({ usage: resolved })
          this.record('success')
        },
        (error: unknown) => this.record(isAbort(error) ? 'success' : 'error', error),
      )
      return value
    }
    this.record('success')
    return value
  }

  /**
   * The AI SDK's `streamText` result. Its `usage`, `totalUsage` and `response` getters start
   * reading the stream and return promises that reject when the provider fails, so none is read:
   * the run waits on the promises those getters would return, which settle once the caller has
   * read the stream (ai 5 and 6 keep them as `_totalUsage` and `_steps`).
   */
  private observeAiStream(result: Record<PropertyKey, unknown>): void {
    const totalUsage = result._totalUsage as { promise?: Promise<unknown>; isPending?: unknown } | undefined
    const steps = result._steps as { promise?: Promise<unknown>; isPending?: unknown } | undefined
    if (typeof totalUsage?.isPending !== 'function' || typeof steps?.isPending !== 'function') {
      // Another AI SDK version: recorded without usage rather than starting the caller's stream.
      this.record('success')
      return
    }
    Promise.all([totalUsage.promise, steps.promise]).then(
      ([usage, allSteps]) => {
        const last = Array.isArray(allSteps) ? (allSteps[allSteps.length - 1] as { response?: unknown; finishReason?: unknown } | undefined) : undefined
        this.observe({ totalUsage: usage, response: last?.response })
        // An error part mid-stream ends the step instead of rejecting; the error itself went to onError.
        if (last?.finishReason === 'error') this.record('error', 'The model stream ended with an error (finishReason "error").')
        else this.record('success')
      },
      (error: unknown) => this.record(isAbort(error) ? 'success' : 'error', error),
    )
  }

  /**
   * The SDKs' stream helpers (Anthropic `MessageStream`, OpenAI `ChatCompletionStream` and
   * `ResponseStream`): recorded from their own events whether the caller iterates them or listens.
   * No `error` or `abort` listener is added, since either would keep the SDK from reporting an
   * error nobody handles; `done()` is asked only after `end`, when it reads the settled outcome.
   */
  private observeEventStream(stream: Record<PropertyKey, unknown>): void {
    const on = stream.on as (event: string, listener: Listener) => unknown
    const observe: Listener = (event) => this.observe(event)
    try {
      on.call(stream, 'streamEvent', observe) // Anthropic: each raw event
      on.call(stream, 'chunk', observe) // OpenAI chat completions: each chunk
      on.call(stream, 'event', observe) // OpenAI responses: each event
      on.call(stream, 'end', () => {
        try {
          ;(stream.done as () => Promise<unknown>).call(stream).then(
            () => this.record('success'),
            (error: unknown) => this.record(stream.aborted === true || isAbort(error) ? 'success' : 'error', error),
          )
        } catch (error) {
          this.record('error', error)
        }
      })
    } catch {
      this.record('success')
    }
  }

  /** An option's value; a function gets the caller's arguments (not the scope), and a throw costs only that field. */
  private resolve<T>(option: FromArgs<unknown[], T> | undefined): T | undefined {
    if (typeof option !== 'function') return option
    try {
      return (option as (...values: unknown[]) => T)(...this.args.slice(0, this.argCount))
    } catch {
      return undefined
    }
  }

  record(status: 'success' | 'error', error?: unknown): void {
    if (this.recorded) return
    this.recorded = true
    try {
      const { options, startedAt, fields } = this
      const durationMs = Math.max(0, Math.round((monotonicNow() - this.startedMono) * 1000) / 1000)
      // Whole milliseconds, so a quick call's endTime is the timestamp's (cached) ISO string.
      const input: ActivityInput = { activityType: this.resolve(options.activityType), timestamp: startedAt, endTime: Math.round(startedAt + durationMs), durationMs, status }
      if (this.id !== undefined) input.id = this.id
      // What the function set through its scope wins over the options.
      const userId = fields?.userId ?? this.resolve(options.userId)
      if (userId !== undefined) input.userId = userId
      const sessionId = fields?.sessionId ?? this.resolve(options.sessionId)
      if (sessionId !== undefined) input.sessionId = sessionId
      const description = fields?.description ?? this.resolve(options.description)
      if (description !== undefined) input.description = description
      if (status === 'error') input.error = error
      const baseMetadata = this.resolve(options.metadata)
      if (baseMetadata || this.metadata) input.metadata = Object.assign({}, baseMetadata, this.metadata)
      const usage = this.usage
      if (usage) {
        const tokenUsage = completeUsage(usage)
        if (tokenUsage) input.tokenUsage = tokenUsage
        else if (usage.model) input.metadata = Object.assign({}, input.metadata as JsonObject | undefined, { model: usage.model })
      }
      const id = this.tracker.track(input)
      // The id track() made, so activityId read later still names the recorded activity.
      this.id ??= id
    } catch {
      // Recording must never reach the caller; track() reports its own problems.
    }
  }
}

/**
 * Makes `stream` report each chunk to `run.observe` and its end, error or abandonment to
 * `run.record`. The stream object itself is kept (its own methods stay usable): its async iterator
 * is replaced on the instance, falling back to a wrapping iterable when the object is frozen.
 */
function timeStream<T>(stream: AsyncIterable<T>, run: ActivityRun): AsyncIterable<T> {
  const original = stream[Symbol.asyncIterator]
  const iterate = function (this: unknown): AsyncIterator<T> {
    return new TimedIterator(original.call(this === undefined ? stream : this), run)
  }
  return defineOwn(stream, Symbol.asyncIterator, iterate) ? stream : { [Symbol.asyncIterator]: () => iterate.call(stream) }
}

/** An iterator that passes every call through and reports to its run; no async functions, so no extra promise per chunk. */
class TimedIterator<T> implements AsyncIterator<T> {
  // Made once per stream rather than once per chunk.
  private readonly onStep = (result: IteratorResult<T>): IteratorResult<T> => {
    if (result.done) this.run.record('success')
    else this.run.observe(result.value)
    return result
  }

  private readonly onError = (error: unknown): never => {
    this.run.record(isAbort(error) ? 'success' : 'error', error)
    throw error
  }

  constructor(
    private readonly iterator: AsyncIterator<T>,
    private readonly run: ActivityRun,
  ) {}

  next(...values: [] | [unknown]): Promise<IteratorResult<T>> {
    let pending: Promise<IteratorResult<T>>
    try {
      pending = this.iterator.next(...values)
    } catch (error) {
      this.run.record('error', error)
      return Promise.reject(error)
    }
    return Promise.resolve(pending).then(this.onStep, this.onError)
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    this.run.record('success')
    const { iterator } = this
    return iterator.return ? iterator.return(value) : Promise.resolve({ done: true, value: value as T })
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.run.record('error', error)
    const { iterator } = this
    return iterator.throw ? iterator.throw(error) : Promise.reject(error)
  }
}
