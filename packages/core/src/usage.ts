import type { TokenUsage } from './activity'

/** Token counts found on an LLM result or stream chunk; any field may be missing. */
export type PartialUsage = Partial<TokenUsage>

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined
}

function usageFields(usage: Record<string, unknown>): PartialUsage {
  const found: PartialUsage = {}
  // OpenAI chat completions, then OpenAI responses / Anthropic, then the Vercel AI SDK (v5, then v4).
  const input = count(usage.prompt_tokens) ?? count(usage.input_tokens) ?? count(usage.inputTokens) ?? count(usage.promptTokens)
  const output =
    count(usage.completion_tokens) ?? count(usage.output_tokens) ?? count(usage.outputTokens) ?? count(usage.completionTokens)
  const total = count(usage.total_tokens) ?? count(usage.totalTokens)
  const cacheWrite = count(usage.cache_creation_input_tokens)
  const cacheRead =
    count(usage.cache_read_input_tokens) ??
    count(record(usage.prompt_tokens_details)?.cached_tokens) ??
    count(record(usage.input_tokens_details)?.cached_tokens) ??
    count(usage.cachedInputTokens)
  if (input !== undefined) found.input = input
  if (output !== undefined) found.output = output
  if (cacheRead !== undefined) found.cacheRead = cacheRead
  if (cacheWrite !== undefined) found.cacheWrite = cacheWrite
  if (total !== undefined) found.total = total
  // Anthropic counts cache reads and writes outside input_tokens, and reports no total.
  else if (cacheWrite !== undefined || count(usage.cache_read_input_tokens) !== undefined) {
    found.total = (input ?? 0) + (output ?? 0) + (cacheRead ?? 0) + (cacheWrite ?? 0)
  }
  return found
}

/**
 * Finds LLM token usage and the model on a provider's result or on one stream chunk: OpenAI chat
 * completions (`usage.prompt_tokens` …), OpenAI responses and Anthropic messages
 * (`usage.input_tokens` …, Anthropic cache tokens), Anthropic stream events (`message.usage`), and
 * the Vercel AI SDK (`usage.inputTokens` …, `response.modelId`). Returns `undefined` when there is
 * none. Never throws.
 *
 * @param value - a result, a response object, or a stream chunk.
 */
export function extractUsage(value: unknown): PartialUsage | undefined {
  try {
    const result = record(value)
    if (!result) return undefined
    const found: PartialUsage = {}
    const message = record(result.message)
    const usage = record(result.usage) ?? record(message?.usage)
    if (usage && typeof (usage as { then?: unknown }).then !== 'function') Object.assign(found, usageFields(usage))
    const model = result.model ?? message?.model ?? record(result.response)?.modelId
    if (typeof model === 'string' && model.length > 0) found.model = model
    return Object.keys(found).length > 0 ? found : undefined
  } catch {
    return undefined
  }
}

/**
 * Merges usage seen later into usage seen earlier, field by field. Stream events report pieces at
 * different times (Anthropic: input tokens in `message_start`, output in `message_delta`).
 */
export function mergeUsage(earlier: PartialUsage | undefined, later: PartialUsage | undefined): PartialUsage | undefined {
  if (!later) return earlier
  if (!earlier) return later
  return { ...earlier, ...later }
}

/** Adds token counts, for code that counts a stream itself. */
export function addUsage(base: PartialUsage | undefined, extra: PartialUsage): PartialUsage {
  const sum: PartialUsage = { ...base }
  for (const key of ['input', 'output', 'total', 'cacheRead', 'cacheWrite'] as const) {
    if (extra[key] !== undefined) sum[key] = (sum[key] ?? 0) + extra[key]!
  }
  if (extra.model) sum.model = extra.model
  return sum
}
