import type { ActivityInput, JsonObject, TokenUsage } from './activity'
import type { Tracker } from './tracker'
import { uuidv7 } from './uuid'
import { addUsage, extractUsage, mergeUsage, type PartialUsage } from './usage'

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
  /** Replaces the token usage (a total, or input / output / total and model). */
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
   * Finds token usage on the result. @default the built-in reader of OpenAI, Anthropic and Vercel
   * AI SDK shapes (`extractUsage`).
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

// Pure, so a bundle without withActivity leaves it out: a top-level read of `performance.now` is
// a side effect to a bundler.
const monotonicNow: () => number = /* @__PURE__ */ (() =>
  typeof performance !== 'undefined' && typeof performance.now === 'function' ? () => performance.now() : () => Date.now())()

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function'
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
}

function toUsage(usage: number | Partial<TokenUsage>): PartialUsage {
  return typeof usage === 'number' ? { total: usage } : usage
}

function resolveOption<Args extends unknown[], T>(option: FromArgs<Args, T> | undefined, args: Args): T | undefined {
  if (typeof option !== 'function') return option
  try {
    return (option as (...values: Args) => T)(...args)
  } catch {
    return undefined
  }
}

/**
 * Wraps `fn` so that every call is recorded as one activity: `timestamp`, `endTime`, `durationMs`
 * (from a monotonic clock), `status` and `error`, and the token usage and model found on the
 * result. The wrapped function keeps `fn`'s parameters and return type, and behaves exactly like
 * it: a sync `fn` stays sync; an async one resolves or rejects exactly as `fn` does (the original
 * error, unchanged); an async-iterable result (an LLM stream) is timed until the stream ends, and
 * usage is taken from its chunks (the last chunk of OpenAI streams, `message_start` /
 * `message_delta` of Anthropic's).
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
  type R = ReturnType<F>
  const readUsage = options.usage ?? extractUsage
  // Where the scope goes: right after the parameters `fn` declares before it.
  const scopeIndex = Math.max(0, fn.length - 1)

  return function wrapped(this: unknown, ...args: unknown[]): R {
    const run = new ActivityRun(tracker, options as WithActivityOptions<unknown[]>, readUsage, args)
    const callArgs = args.length < scopeIndex ? [...args, ...new Array<undefined>(scopeIndex - args.length)] : args.slice()
    callArgs.splice(Math.max(scopeIndex, args.length), 0, run)
    let result: unknown
    try {
      result = (fn as (...values: unknown[]) => unknown).apply(this, callArgs)
    } catch (error) {
      run.record('error', error)
      throw error
    }
    if (isThenable(result)) {
      return (result as Promise<unknown>).then(
        (value) => run.finish(value),
        (error: unknown) => {
          run.record('error', error)
          throw error
        },
      ) as R
    }
    return run.finish(result) as R
  }
}

/**
 * One call of a wrapped function: its clock, what the function told through the scope, and the
 * recording at the end. A class, so a call allocates one object rather than a dozen closures.
 */
class ActivityRun implements ActivityScope {
  readonly activityId: string
  private readonly startedAt = Date.now()
  private readonly startedMono = monotonicNow()
  private recorded = false
  private usage: PartialUsage | undefined
  private fields: ActivityInput | undefined
  private metadata: JsonObject | undefined

  constructor(
    private readonly tracker: Pick<Tracker, 'track'>,
    private readonly options: WithActivityOptions<unknown[]>,
    private readonly readUsage: (result: unknown) => Partial<TokenUsage> | undefined,
    private readonly args: unknown[],
  ) {
    this.activityId = uuidv7(this.startedAt)
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
    this.usage = { model: this.usage?.model, ...toUsage(usage) }
  }

  addTokenUsage(usage: number | Partial<TokenUsage>): void {
    this.usage = addUsage(this.usage, toUsage(usage))
  }

  setMetadata(metadata: JsonObject): void {
    this.metadata = { ...this.metadata, ...metadata }
  }

  observe(value: unknown): void {
    try {
      this.usage = mergeUsage(this.usage, this.readUsage(value) ?? undefined)
    } catch {
      // A custom usage reader that throws only loses the usage.
    }
  }

  finish(value: unknown): unknown {
    this.observe(value)
    if (isAsyncIterable(value)) return timeStream(value, this)
    const lazyUsage = (value as { usage?: unknown } | null)?.usage
    if (isThenable(lazyUsage)) {
      // Vercel AI SDK streamText: usage is a promise that settles when the stream ends.
      lazyUsage.then(
        (resolved) => {
          this.observe({ usage: resolved })
          this.record('success')
        },
        (error) => this.record('error', error),
      )
      return value
    }
    this.record('success')
    return value
  }

  record(status: 'success' | 'error', error?: unknown): void {
    if (this.recorded) return
    this.recorded = true
    try {
      const { options, args, usage } = this
      const durationMs = Math.max(0, Math.round((monotonicNow() - this.startedMono) * 1000) / 1000)
      // Object.assign, not spread: spreading takes a slow path on Node 20 that costs microseconds.
      const input: ActivityInput = Object.assign(
        {
          id: this.activityId,
          activityType: resolveOption(options.activityType, args),
          userId: resolveOption(options.userId, args),
          sessionId: resolveOption(options.sessionId, args),
          description: resolveOption(options.description, args),
        },
        this.fields,
        { timestamp: this.startedAt, endTime: this.startedAt + durationMs, durationMs, status },
      )
      if (status === 'error') input.error = error
      const baseMetadata = resolveOption(options.metadata, args)
      if (baseMetadata || this.metadata) input.metadata = Object.assign({}, baseMetadata, this.metadata)
      if (usage) {
        if (usage.total !== undefined || usage.input !== undefined || usage.output !== undefined) input.tokenUsage = usage
        else if (usage.model) input.metadata = { ...(input.metadata as JsonObject | undefined), model: usage.model }
      }
      this.tracker.track(input)
    } catch {
      // Recording must never reach the caller; track() reports its own problems.
    }
  }
}

/**
 * Makes `stream` report to `observe` for each chunk and to `record` when it ends, errors or is
 * abandoned. The stream object itself is kept (its own methods stay usable): its async iterator is
 * replaced on the instance, falling back to a wrapping generator when the object is frozen.
 */
function timeStream<T>(stream: AsyncIterable<T>, run: ActivityRun): AsyncIterable<T> {
  const original = stream[Symbol.asyncIterator].bind(stream)
  const iterate = (): AsyncIterator<T> => {
    const iterator = original()
    return {
      async next(...nextArgs: [] | [unknown]) {
        try {
          const step = await iterator.next(...nextArgs)
          if (step.done) run.record('success')
          else run.observe(step.value)
          return step
        } catch (error) {
          run.record('error', error)
          throw error
        }
      },
      async return(value?: unknown) {
        run.record('success')
        return iterator.return ? iterator.return(value) : { done: true as const, value: value as T }
      },
      async throw(error?: unknown) {
        run.record('error', error)
        if (iterator.throw) return iterator.throw(error)
        throw error
      },
    }
  }
  try {
    Object.defineProperty(stream, Symbol.asyncIterator, { value: iterate, configurable: true, writable: true })
    return stream
  } catch {
    return { [Symbol.asyncIterator]: iterate }
  }
}
