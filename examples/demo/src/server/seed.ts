import type { ActivityInput } from '@usertracking/core'
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64'
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus'
import { DEMO_USERS } from './demo-users'

/** How much history {@link seedActivities} makes. */
export interface SeedOptions {
  /** The moment the history ends at (the first start), in Unix ms. */
  now: number
  /** Days of history, today included. @default 14 (the admin dashboard's range) */
  days?: number
  /** Seed of the random choices: the same seed and `now` give the same history. @default 17 */
  seed?: number
}

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

const JOBS = [
  { jobTitle: 'Data Engineer', company: 'Amazon' },
  { jobTitle: 'Senior Backend Engineer', company: 'Stripe' },
  { jobTitle: 'UX Researcher', company: 'Spotify' },
  { jobTitle: 'Machine Learning Engineer', company: 'DeepMind' },
  { jobTitle: 'Site Reliability Engineer', company: 'Shopify' },
  { jobTitle: 'Junior Frontend Developer', company: 'Canva' },
  { jobTitle: 'Analytics Engineer', company: 'Airbnb' },
  { jobTitle: 'Product Designer', company: 'Figma' },
]

const PAGES = [
  { page: '/', title: 'Tailor — resumes that fit the job' },
  { page: '/pricing', title: 'Pricing — Tailor' },
  { page: '/jobs', title: 'Saved jobs — Tailor' },
  { page: '/resume', title: 'My resume — Tailor' },
  { page: '/activities', title: 'My Activities — Tailor' },
]

const BUTTONS = [
  { element: 'tailor-button', text: 'Tailor my resume' },
  { element: 'start-trial', text: 'Start free trial' },
  { element: 'upgrade-pro', text: 'Go Pro' },
  { element: 'download-pdf', text: 'Download PDF' },
  { element: 'nav-activities', text: 'My Activities' },
]

const USER_AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0',
]

/** The LLM features, each with the models it runs on (as providers report them) and its usual sizes. */
const LLM_FEATURES = [
  { activityType: 'resume_generation', weight: 5, models: ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini-2024-07-18', 'gpt-4o-2024-08-06', 'claude-sonnet-4-20250514'], input: [900, 2200], output: [500, 1400], seconds: [2, 9] },
  { activityType: 'job_match', weight: 3, models: ['gpt-4o-mini-2024-07-18'], input: [400, 900], output: [80, 250], seconds: [0.8, 2.5] },
  { activityType: 'cover_letter', weight: 2, models: ['claude-3-5-haiku-20241022', 'gpt-4o-2024-08-06'], input: [700, 1500], output: [350, 700], seconds: [2, 6] },
] as const

/**
 * A believable two weeks of a resume-tailoring product: visits of four signed-in users and a
 * handful of anonymous visitors (page views, clicks, forms, focus, time on page, sign-ins), and
 * the users' LLM features (`resume_generation`, `job_match`, `cover_letter`) on several models,
 * with tokens, durations and the odd failure. Every activity lies between `now - days` and `now`,
 * and each user's last visit falls in the last hour, so "today" is never empty.
 */
export function seedActivities(options: SeedOptions): ActivityInput[] {
  const { now } = options
  const days = options.days ?? 14
  // Seeded, so that a reset makes the same history (relative to `now`).
  const generator = xoroshiro128plus(options.seed ?? 17)
  const next = () => uniformFloat64(generator)
  const between = (low: number, high: number) => low + next() * (high - low)
  const whole = (low: number, high: number) => Math.round(between(low, high))
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!
  const activities: ActivityInput[] = []
  const people = [
    ...DEMO_USERS.filter((user) => !user.admin).map((user, index) => ({ userId: user.id, anonymousId: `anon-${user.id}`, visitsPerDay: 1.2 - index * 0.2 })),
    ...['7f3a', 'b21c', '0d9e', 'e4a7', '5c18', '92fb'].map((id) => ({ userId: undefined, anonymousId: `anon-${id}`, visitsPerDay: 0.3 })),
  ]

  for (const person of people) {
    const userAgent = pick(USER_AGENTS)
    const visits = Math.round(person.visitsPerDay * days)
    for (let visit = 0; visit < visits; visit++) {
      // Each user's last visit is in the last hour; the rest spread over the period.
      let at = person.userId && visit === visits - 1 ? now - between(5 * 60_000, HOUR_MS) : now - between(HOUR_MS, days * DAY_MS)
      const sessionId = `seed-${person.anonymousId}-${visit}`
      const base = { userId: person.userId, anonymousId: person.anonymousId, sessionId }
      const context = (page: string) => ({ page, host: '127.0.0.1', url: `http://127.0.0.1${page}`, userAgent })
      const step = (lowSeconds: number, highSeconds: number) => {
        at += between(lowSeconds, highSeconds) * 1000
        return Math.min(at, now - 1000)
      }
      if (person.userId && next() < 0.4) {
        activities.push({ ...base, activityType: 'login', timestamp: new Date(at).toISOString(), context: context('/login'), metadata: { method: pick(['password', 'google', 'magic_link']) } })
      }
      for (let pageView = whole(1, 3); pageView > 0; pageView--) {
        const { page, title } = pick(PAGES)
        activities.push({ ...base, activityType: 'page_visit', timestamp: new Date(step(1, 5)).toISOString(), context: context(page), metadata: { path: page, title } })
        if (next() < 0.6) {
          const button = pick(BUTTONS)
          activities.push({ ...base, activityType: 'button_click', timestamp: new Date(step(3, 40)).toISOString(), context: { ...context(page), element: button.element }, metadata: { tag: 'button', text: button.text } })
        }
        if (page === '/' && next() < 0.3) {
          activities.push({ ...base, activityType: 'input_focus', timestamp: new Date(step(2, 10)).toISOString(), context: { ...context(page), element: 'job-description' }, metadata: { name: 'jobDescription', type: 'textarea' } })
          activities.push({ ...base, activityType: 'form_submit', timestamp: new Date(step(20, 90)).toISOString(), context: { ...context(page), element: 'tailor-form' }, metadata: { action: '/demo/tailor', method: 'post' } })
        }
        if (person.userId && next() < 0.6) {
          const feature = pickWeighted(LLM_FEATURES, next)
          const model = pick(feature.models)
          const job = pick(JOBS)
          const failed = next() < 0.04
          const seconds = between(feature.seconds[0], feature.seconds[1])
          const input = whole(feature.input[0], feature.input[1])
          const output = failed ? 0 : whole(feature.output[0], feature.output[1])
          activities.push({
            ...base,
            activityType: feature.activityType,
            description: DESCRIPTIONS[feature.activityType](job),
            timestamp: new Date(step(5, 60)).toISOString(),
            durationMs: Math.round(seconds * 1000),
            status: failed ? 'error' : 'success',
            ...(failed ? { error: '429 Rate limit reached for requests' } : {}),
            tokenUsage: { input, output, total: input + output, model },
            context: context(page),
            metadata: { ...job, model: model.replace(/-\d{4}-?\d{2}-?\d{2}$/, ''), promptType: feature.activityType },
          })
        }
        // Time on page is sent when the page is hidden or left: not every visit gets that far.
        if (next() < 0.7) activities.push({ ...base, activityType: 'time_on_page', timestamp: new Date(step(1, 3)).toISOString(), durationMs: whole(8, 240) * 1000, context: context(page) })
      }
    }
  }
  return activities.sort((a, b) => String(a.timestamp).localeCompare(String(b.timestamp)))
}

const DESCRIPTIONS: Record<(typeof LLM_FEATURES)[number]['activityType'], (job: (typeof JOBS)[number]) => string> = {
  resume_generation: (job) => `Tailored resume for ${job.company} job`,
  job_match: (job) => `Matched resume against ${job.jobTitle} at ${job.company}`,
  cover_letter: (job) => `Cover letter for ${job.jobTitle} at ${job.company}`,
}

function pickWeighted<T extends { weight: number }>(list: readonly T[], next: () => number): T {
  let left = next() * list.reduce((sum, item) => sum + item.weight, 0)
  for (const item of list) {
    left -= item.weight
    if (left < 0) return item
  }
  return list[list.length - 1]!
}
