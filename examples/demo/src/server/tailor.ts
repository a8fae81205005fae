import { randomUUID } from 'node:crypto'
import { extractUsage, withActivity, type ActivityCost, type Tracker, type TokenUsage } from '@usertracking/core'
import { runWithContext } from '@usertracking/node'
import type { Pricing } from '@usertracking/pricing'
import type OpenAI from 'openai'
import type { DemoUser } from './demo-users'
import { json, readJson } from './json'

/** What the product page sends to be tailored. */
export interface TailorInput {
  jobTitle: string
  company: string
  jobDescription: string
  resume: string
}

/** One line of the `POST /demo/tailor` answer (NDJSON): words as they stream, then the usage and cost. */
export type TailorEvent =
  | { delta: string }
  | { done: true; tokenUsage?: TokenUsage; cost?: ActivityCost; durationMs: number }
  | { error: string }

const LIMITS: Record<keyof TailorInput, number> = { jobTitle: 120, company: 120, jobDescription: 5000, resume: 8000 }

/** The input, or the first field that is wrong, named. */
function checkInput(body: unknown): TailorInput | string {
  if (typeof body !== 'object' || body === null) return 'The body must be a JSON object.'
  const input = body as Record<string, unknown>
  for (const [name, max] of Object.entries(LIMITS)) {
    const value = input[name]
    if (typeof value !== 'string' || value.trim() === '') return `${name} must be a non-empty string.`
    if (value.length > max) return `${name} must be at most ${max} characters.`
  }
  return { jobTitle: String(input.jobTitle).trim(), company: String(input.company).trim(), jobDescription: String(input.jobDescription), resume: String(input.resume) }
}

/**
 * The server function behind "Tailor my resume": one streamed chat completion, wrapped in
 * `withActivity` so that each call is recorded as a `resume_generation` with its duration (to the
 * end of the stream), tokens, model, status, and — through the tracker's `beforeSend` — its cost.
 */
export function createTailor(tracker: Pick<Tracker, 'track'>, openai: OpenAI, model: string) {
  return withActivity(
    tracker,
    {
      activityType: 'resume_generation',
      userId: (user: DemoUser) => user.id,
      description: (_user: DemoUser, input: TailorInput) => `Tailored resume for ${input.company} job`,
      metadata: (_user: DemoUser, input: TailorInput) => ({ jobTitle: input.jobTitle, company: input.company, promptType: 'tailor_resume', resumeWords: input.resume.split(/\s+/).filter(Boolean).length }),
    },
    (_user: DemoUser, input: TailorInput, signal: AbortSignal) =>
      openai.chat.completions.create(
        {
          model,
          stream: true,
          // Without it OpenAI sends no usage on a stream, and the activity would have no tokens.
          stream_options: { include_usage: true },
          messages: [
            { role: 'system', content: 'You rewrite resumes for one job: keep the facts, lead with what the job asks for.' },
            { role: 'user', content: `Job title: ${input.jobTitle}\nCompany: ${input.company}\n\nJob description: ${input.jobDescription}\n\nResume: ${input.resume}` },
          ],
        },
        { signal },
      ),
  )
}

/**
 * `POST /demo/tailor`: the signed-in user's tailoring, streamed back as NDJSON. Leaving the page
 * aborts the model call (the activity is then recorded with what arrived).
 */
export function createTailorRoute(options: { tailor: ReturnType<typeof createTailor>; pricing: Pricing; userOf: (request: Request) => DemoUser | undefined; onError: (error: unknown) => void }) {
  async function route(request: Request): Promise<Response> {
    if (request.method !== 'POST') return json(405, { error: 'Use POST.' }, { allow: 'POST' })
    const user = options.userOf(request)
    if (!user) return json(401, { error: 'Sign in (the switcher at the top) to tailor a resume.' })
    const read = await readJson(request)
    if ('error' in read) return read.error
    const input = checkInput(read.body)
    if (typeof input === 'string') return json(400, { error: input })
    // Everything tracked while this request runs (the tailoring, when its stream ends) says where it happened.
    const where = { requestId: randomUUID(), context: { page: '/', userAgent: request.headers.get('user-agent') ?? undefined } }
    return runWithContext(where, () => respond(user, input, request))
  }

  async function respond(user: DemoUser, input: TailorInput, request: Request): Promise<Response> {
    const started = performance.now()
    let stream: Awaited<ReturnType<typeof options.tailor>>
    try {
      stream = await options.tailor(user, input, request.signal)
    } catch (error) {
      options.onError(error)
      return json(502, { error: 'The model did not answer. Try again.' })
    }
    const encoder = new TextEncoder()
    // Set when the page went away: nothing more may be written, and the model call is aborted.
    let cancelled = false
    return new Response(
      new ReadableStream<Uint8Array>({
        async start(controller) {
          const send = (event: TailorEvent) => {
            if (!cancelled) controller.enqueue(encoder.encode(`${JSON.stringify(event)}\n`))
          }
          let tokenUsage: TokenUsage | undefined
          try {
            for await (const chunk of stream) {
              const delta = chunk.choices[0]?.delta?.content
              if (delta) send({ delta })
              const usage = extractUsage(chunk)
              if (usage) tokenUsage = { ...usage, total: usage.total ?? (usage.input ?? 0) + (usage.output ?? 0) }
            }
            const cost = tokenUsage ? options.pricing.price(tokenUsage) : undefined
            send({ done: true, tokenUsage, cost, durationMs: Math.round(performance.now() - started) })
          } catch (error) {
            if (cancelled) return
            options.onError(error)
            send({ error: 'The model stopped answering. Try again.' })
          }
          if (!cancelled) controller.close()
        },
        cancel() {
          cancelled = true
          stream.controller.abort()
        },
      }),
      { headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' } },
    )
  }
  return route
}
