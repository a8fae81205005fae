import type { TokenUsage } from './activity'

/**
 * Token counts found on an LLM result or stream chunk; any field may be missing. `input` counts
 * every input token, cache reads and writes included (as OpenAI and the AI SDK report it);
 * `total` is only what the provider reported; `withActivity` derives the rest when it records.
 */
export interface PartialUsage extends Partial<TokenUsage> {
  /**
   * Input tokens outside the prompt cache, for providers that count cache reads and writes apart
   * (Anthropic's `input_tokens`). When set, `input` is this plus `cacheRead` and `cacheWrite`.
   */
  uncachedInput?: number
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined
}

function isThenable(value: unknown): boolean {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

/** Reads one provider usage object; fields it lacks (or reports as null) stay undefined. */
function usageFields(usage: Record<string, unknown>): PartialUsage {
  const found: PartialUsage = {}
  const output =
    count(usage.completion_tokens) ?? count(usage.output_tokens) ?? count(usage.outputTokens) ?? count(usage.completionTokens)
  const total = count(usage.total_tokens) ?? count(usage.totalTokens)
  // Anthropic reports cache reads and writes beside input_tokens, which counts neither; its
  // stream events may carry these keys as null, meaning "unchanged".
  const anthropic = 'cache_creation_input_tokens' in usage || 'cache_read_input_tokens' in usage
  if (anthropic) {
    const uncached = count(usage.input_tokens)
    const cacheRead = count(usage.cache_read_input_tokens)
    const cacheWrite = count(usage.cache_creation_input_tokens)
    if (uncached !== undefined) found.uncachedInput = uncached
    if (cacheRead !== undefined) found.cacheRead = cacheRead
    if (cacheWrite !== undefined) found.cacheWrite = cacheWrite
  } else {
    // OpenAI chat completions, OpenAI responses, the AI SDK (v5+, then v4): input includes cached tokens.
    const input = count(usage.prompt_tokens) ?? count(usage.input_tokens) ?? count(usage.inputTokens) ?? count(usage.promptTokens)
    const details = record(usage.inputTokenDetails)
    const cacheRead =
      count(record(usage.prompt_tokens_details)?.cached_tokens) ??
      count(record(usage.input_tokens_details)?.cached_tokens) ??
      count(details?.cacheReadTokens) ??
      count(usage.cachedInputTokens)
    const cacheWrite = count(details?.cacheWriteTokens)
    if (input !== undefined) found.input = input
    if (cacheRead !== undefined) found.cacheRead = cacheRead
    if (cacheWrite !== undefined) found.cacheWrite = cacheWrite
  }
  if (output !== undefined) found.output = output
  if (total !== undefined) found.total = total
  return found
}

/**
 * Finds LLM token usage and the model on a provider's result or on one stream chunk: OpenAI chat
 * completions (`usage.prompt_tokens` …), OpenAI responses and their stream events
 * (`response.usage`, `response.model` of `response.completed`), Anthropic messages and stream
 * events (`usage.input_tokens`, cache reads and writes, `message.usage`), and the Vercel AI SDK
 * (`totalUsage` over all steps, else `usage`; `response.modelId`). Each property is read at most
 * once, and a promise found on the way is left alone. Returns `undefined` when there is none.
 * Never throws.
 *
 * @param value - a result, a response object, or a stream chunk.
 */
export function extractUsage(value: unknown): PartialUsage | undefined {
  try {
    const result = record(value)
    return result ? usageOf(result, result.usage) : undefined
  } catch {
    return undefined
  }
}

/**
 * {@link extractUsage} for a result whose `usage` property was already read (as `usage`), so a
 * getter behind it never runs twice.
 */
export function usageOf(result: Record<string, unknown>, usage: unknown): PartialUsage | undefined {
  try {
    // An AI SDK stream result: its getters start reading the stream, so nothing is read here.
    if ('textStream' in result) return undefined
    let found: PartialUsage | undefined
    const totalUsage = record(result.totalUsage)
    const message = record(result.message)
    const response = record(result.response)
    const source =
      (totalUsage && !isThenable(totalUsage) ? totalUsage : undefined) ??
      (isThenable(usage) ? undefined : record(usage)) ??
      record(message?.usage) ??
      (response && !isThenable(response) ? record(response.usage) : undefined)
    if (source) found = usageFields(source)
    const model =
      result.model ?? message?.model ?? (response && !isThenable(response) ? (response.model ?? response.modelId) : undefined)
    if (typeof model === 'string' && model.length > 0) (found ??= {}).model = model
    return found && Object.keys(found).length > 0 ? found : undefined
  } catch {
    return undefined
  }
}

/**
 * Merges usage seen later into usage seen earlier, field by field: a field the later one lacks
 * keeps its earlier value. Stream events report pieces at different times (Anthropic: input and
 * cache tokens in `message_start`, the final output count in `message_delta`).
 */
export function mergeUsage(earlier: PartialUsage | undefined, later: PartialUsage | undefined): PartialUsage | undefined {
  if (!later) return earlier
  if (!earlier) return later
  const merged: PartialUsage = { ...earlier }
  for (const key in later) {
    const value = later[key as keyof PartialUsage]
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value
  }
  return merged
}

/** Adds token counts, for code that counts a stream itself. */
export function addUsage(base: PartialUsage | undefined, extra: PartialUsage): PartialUsage {
  const sum: PartialUsage = { ...base }
  for (const key of ['input', 'output', 'total', 'cacheRead', 'cacheWrite', 'uncachedInput'] as const) {
    if (extra[key] !== undefined) sum[key] = (sum[key] ?? 0) + extra[key]!
  }
  if (extra.model) sum.model = extra.model
  return sum
}

/**
 * The token usage to record from everything seen: `input` includes cache reads and writes, and
 * `total` is the provider's when it reported one, else `input + output`, computed from the final
 * figures (never from a stale intermediate one). `undefined` when no count was seen.
 */
export function completeUsage(usage: PartialUsage | undefined): TokenUsage | undefined {
  if (!usage) return undefined
  const { uncachedInput, cacheRead, cacheWrite, output, model } = usage
  const input = uncachedInput !== undefined ? uncachedInput + (cacheRead ?? 0) + (cacheWrite ?? 0) : usage.input
  if (usage.total === undefined && input === undefined && output === undefined) return undefined
  const complete: TokenUsage = { total: usage.total ?? (input ?? 0) + (output ?? 0) }
  if (input !== undefined) complete.input = input
  if (output !== undefined) complete.output = output
  if (cacheRead !== undefined) complete.cacheRead = cacheRead
  if (cacheWrite !== undefined) complete.cacheWrite = cacheWrite
  if (model !== undefined) complete.model = model
  return complete
}
