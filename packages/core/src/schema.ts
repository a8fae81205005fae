import { z } from 'zod'
import type { Activity } from './activity'
import { ACTIVITY_LIMITS, normalizeActivity, type NormalizeOptions } from './normalize'

function createActivitySchema() {
  const isoTime = z.iso.datetime({ offset: true })
  const count = z.number().nonnegative().max(ACTIVITY_LIMITS.maxTokens)
  const json: z.ZodType<unknown> = z.lazy(() =>
    z.union([z.string(), z.number().finite(), z.boolean(), z.null(), z.array(json), z.record(z.string(), json)]),
  )
  return z.object({
    id: z.uuid({ version: undefined }),
    activityType: z.string().min(1).max(200),
    timestamp: isoTime,
    userId: z.string().min(1).max(256).optional(),
    anonymousId: z.string().min(1).max(256).optional(),
    sessionId: z.string().min(1).max(256).optional(),
    description: z.string().optional(),
    endTime: isoTime.optional(),
    durationMs: z.number().nonnegative().max(ACTIVITY_LIMITS.maxDurationMs).optional(),
    tokenUsage: z
      .object({
        input: count.optional(),
        output: count.optional(),
        total: count,
        cacheRead: count.optional(),
        cacheWrite: count.optional(),
        model: z.string().optional(),
      })
      .optional(),
    status: z.enum(['success', 'error']).optional(),
    error: z.string().optional(),
    context: z.record(z.string(), json).optional(),
    metadata: z.record(z.string(), json).optional(),
    receivedAt: isoTime.optional(),
    cost: z
      .object({
        total: count.max(1_000_000).optional(),
        input: count.max(1_000_000).optional(),
        output: count.max(1_000_000).optional(),
        currency: z.literal('USD'),
        source: z.string().min(1).max(200),
        unpriced: z.boolean().optional(),
      })
      .optional(),
  })
}

/**
 * The zod schema of a normalised {@link Activity}: what sinks receive and stores hold. Use it at
 * your own edges (a queue consumer, a migration script); the ingest handler uses
 * {@link parseActivity}, which first accepts the input aliases.
 *
 * Built by one pure call so that bundlers drop zod entirely from apps that never touch the schema
 * (the browser tracker validates with the smaller {@link normalizeActivity} instead).
 */
export const activitySchema = /* @__PURE__ */ createActivitySchema()

/** The result of {@link parseActivity}: zod's `safeParse` result over the normalised activity. */
export type ParseActivityResult = { success: true; data: Activity } | { success: false; error: z.ZodError }

/**
 * Normalises any accepted input shape (see {@link ActivityInput}) and validates the result with
 * {@link activitySchema}. Issues found while normalising (a cyclic `metadata`, an alias of the wrong
 * type) are reported as zod issues too, so callers see one error type with field paths.
 *
 * @param input - the decoded JSON (or object) to parse.
 * @param options - normalisation limits.
 */
export function parseActivity(input: unknown, options?: NormalizeOptions): ParseActivityResult {
  const normalized = normalizeActivity(input, options)
  if (!normalized.ok) {
    return {
      success: false,
      error: new z.ZodError(
        normalized.issues.map((issue) => ({ code: 'custom' as const, path: issue.path, message: issue.message, input })),
      ),
    }
  }
  const parsed = activitySchema.safeParse(normalized.activity)
  return parsed.success ? { success: true, data: parsed.data as Activity } : { success: false, error: parsed.error }
}
