/** A JSON primitive. */
export type JsonPrimitive = string | number | boolean | null
/** Any value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue }
/** A JSON object, the shape of `metadata`. */
export type JsonObject = { [key: string]: JsonValue }

/** LLM token counts of one activity. `total` is always present once normalised. */
export interface TokenUsage {
  /** Prompt / input tokens, cache reads and writes included (as OpenAI and the AI SDK count them; `withActivity` adds Anthropic's). */
  input?: number
  /** Completion / output tokens. */
  output?: number
  /** All tokens billed; `input + output` when the provider does not say. */
  total: number
  /** Input tokens served from a prompt cache (Anthropic `cache_read_input_tokens`, OpenAI `cached_tokens`). */
  cacheRead?: number
  /** Input tokens written to a prompt cache (Anthropic `cache_creation_input_tokens`). */
  cacheWrite?: number
  /** The model that spent them, when known. */
  model?: string
}

/**
 * What an activity's LLM tokens cost, computed at track time from a price table (see the pricing
 * package). A model with no known price is marked `unpriced` and has no `total`: never a `0` that
 * would read as free.
 */
export interface ActivityCost {
  /** Total cost in `currency`, cache reads and writes included; absent when `unpriced`. */
  total?: number
  /** Cost of the input tokens (cache reads and writes included). */
  input?: number
  /** Cost of the output tokens. */
  output?: number
  /** Always `'USD'`: every price source is in US dollars. */
  currency: 'USD'
  /** Where the prices came from, e.g. `genai-prices@0.0.40` or `custom`. */
  source: string
  /** `true` when no price was known for the model; `total` is then absent. */
  unpriced?: boolean
}

/** Where an activity happened. Free-form beyond the named fields, but always JSON. */
export interface ActivityContext {
  /** URL or path of the page. */
  page?: string
  /** Host name of the page (`example.com`), so that one store can tell many sites apart. */
  host?: string
  /** Full URL of the page, with query parameters stripped except an allow-list (such as `utm_*`). */
  url?: string
  /** Document title of the page. */
  title?: string
  /** Referrer of the page. */
  referrer?: string
  /** Id (or other identifier) of the element acted on. */
  element?: string
  /** The client's user agent string. */
  userAgent?: string
  /** The client's IP address, set by the server (possibly truncated when anonymised). */
  ip?: string
  [key: string]: JsonValue | undefined
}

/** Outcome of an activity. */
export type ActivityStatus = 'success' | 'error'

/**
 * One recorded activity, as stored and delivered. Every producer (the tracker, `withActivity`, the
 * ingest handler) normalises its input into this shape; every sink and store receives it.
 */
export interface Activity {
  /** UUIDv7: unique, time-ordered, and the idempotency key of every sink. */
  id: string
  /** What happened, e.g. `resume_generation`, `page_visit`, `deleted`. */
  activityType: string
  /** When it started (ISO 8601, UTC). */
  timestamp: string
  /** The signed-in user, if any. */
  userId?: string
  /** A persistent id for a visitor who is not signed in. */
  anonymousId?: string
  /** The session the activity belongs to. */
  sessionId?: string
  /** Human-readable description. */
  description?: string
  /** When it ended (ISO 8601, UTC). */
  endTime?: string
  /** How long it took, in milliseconds. */
  durationMs?: number
  /** LLM tokens spent. */
  tokenUsage?: TokenUsage
  /** What the tokens cost, when pricing is configured. */
  cost?: ActivityCost
  /** Whether it succeeded. */
  status?: ActivityStatus
  /** The error message when `status` is `error`. */
  error?: string
  /** Where it happened. */
  context?: ActivityContext
  /** Anything else, as a JSON object. */
  metadata?: JsonObject
  /** When the server recorded it (ISO 8601, UTC); set by the ingest handler and stores, not by clients. */
  receivedAt?: string
}

/**
 * What `track()` and the ingest handler accept: the {@link Activity} fields, all optional but
 * `activityType`, plus the shapes the apps this SDK serves already send. Aliases are normalised:
 *
 * - `user_id` (number or string) → `userId`; `user_identifier` → `anonymousId`; `session_id` → `sessionId`
 * - `action`, `action_type`, `type`, `event` → `activityType`
 * - `event_action_timestamp`, `created_at` → `timestamp` (a `Date`, epoch milliseconds or ISO string)
 * - `timeTaken` (seconds) → `durationMs`; `duration_ms` → `durationMs`
 * - a number in `tokenUsage` → `{ total }`; `{ prompt_tokens, completion_tokens }` → `{ input, output, total }`
 * - `details`, `additional_data` (object or JSON string) → `metadata`
 * - `element_id`, `page_url` or a top-level `page`, `user_agent`, `ip_address` → `context.element` / `page` / `userAgent` / `ip`
 */
export interface ActivityInput {
  id?: string
  activityType?: string
  action?: string
  action_type?: string
  type?: string
  event?: string
  timestamp?: string | number | Date
  event_action_timestamp?: string | number | Date
  created_at?: string | number | Date
  userId?: string | number
  user_id?: string | number
  anonymousId?: string
  user_identifier?: string
  sessionId?: string | number
  session_id?: string | number
  description?: string
  endTime?: string | number | Date
  durationMs?: number
  duration_ms?: number
  timeTaken?: number
  tokenUsage?: number | Partial<TokenUsage> | Record<string, unknown>
  cost?: ActivityCost
  status?: ActivityStatus
  error?: unknown
  context?: Record<string, unknown>
  element_id?: string
  page_url?: string
  page?: string
  user_agent?: string
  ip_address?: string
  metadata?: Record<string, unknown> | string
  details?: Record<string, unknown> | string
  additional_data?: Record<string, unknown> | string
  receivedAt?: string | number | Date
}
