/**
 * The whole loop on one machine, with nothing installed but Node:
 *
 * 1. a store (embedded PGlite PostgreSQL when the Postgres package is present, else memory);
 * 2. the server package's handler on 127.0.0.1, the backend of a "My Activities" page;
 * 3. a tracker delivering to it over HTTP: the five apps' activities, and an LLM call measured by
 *    `withActivity`;
 * 4. the activities read back through the same HTTP API, with their stats.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createTracker, httpSink, withActivity, type Activity, type ActivityStats } from '@usertracking/core'
import { createActivityHandler, toNodeListener } from '@usertracking/server'
import { openStore } from './store'

const { store, label, close: closeStore } = await openStore()
const handler = createActivityHandler({
  store,
  // Demo only: without `authenticate`, this lets anyone read everything and write as any user.
  // A real app passes `authenticate: (request) => ({ userId, admin? }) | null` instead.
  insecureDevelopmentMode: true,
})
const server = createServer(toNodeListener(handler))
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
console.log(`Store: ${label}. Ingest and read API on ${base}/api\n`)

const tracker = createTracker({ sinks: [httpSink({ url: `${base}/api/activity` })], debug: false })

// The five apps' own payload shapes, accepted as they are.
tracker.track({
  userId: 'abc123',
  activityType: 'resume_generation',
  description: 'Tailored resume for Amazon job',
  timestamp: '2025-07-06T10:05:00Z',
  tokenUsage: 1420,
  timeTaken: 3.2,
  metadata: { jobTitle: 'Data Engineer', resumeLength: '2 pages' },
})
tracker.track({
  user_id: 6,
  event_action_timestamp: '2025-10-10T18:30:00Z',
  action: 'deleted',
  metadata: { ip: '192.168.1.10', device: 'iPhone 14', location: 'Kyiv, Ukraine' },
})
tracker.track({ action_type: 'button_click', element_id: 'submit-btn', user_identifier: 'anon-7f3a', additional_data: '{"element_text": "Submit Form"}' })
tracker.track({ activityType: 'page_visit', anonymousId: 'anon-7f3a', context: { page: '/pricing', title: 'Pricing' } })
tracker.track({ user_id: 21, action: 'session_created', details: { session_id: 42 } })

// A bad call is dropped and counted, never thrown into the app.
tracker.track({ activityType: 'oops', metadata: { tooBig: 10n } } as never)

// An LLM call, measured: duration, status, model and tokens come from the call itself.
const chatCompletion = withActivity(
  tracker,
  { activityType: 'chat_completion', userId: (request: { userId: string }) => request.userId },
  async (request: { userId: string; prompt: string }) => {
    await new Promise((resolve) => setTimeout(resolve, 120))
    return {
      model: 'gpt-4o-mini',
      choices: [{ message: { content: `Echo: ${request.prompt}` } }],
      usage: { prompt_tokens: 42, completion_tokens: 58, total_tokens: 100 },
    }
  },
)
const reply = await chatCompletion({ userId: '21', prompt: 'Summarise my week' })
console.log(`LLM replied: ${reply.choices[0]!.message.content}`)

await tracker.flush()
console.log('Tracker stats:', tracker.stats(), '\n')

const list = (await (await fetch(`${base}/api/activities?limit=20&sort=timestamp&order=desc`)).json()) as { items: Activity[] }
console.table(
  list.items.map((activity) => ({
    type: activity.activityType,
    user: activity.userId ?? activity.anonymousId ?? '',
    timestamp: activity.timestamp,
    'time taken (ms)': activity.durationMs ?? '',
    tokens: activity.tokenUsage?.total ?? '',
    details: JSON.stringify(activity.metadata ?? activity.context ?? {}).slice(0, 48),
  })),
)

const stats = (await (await fetch(`${base}/api/activities/stats`)).json()) as ActivityStats
console.log(`\n${stats.total} activities, ${stats.uniqueUsers} users, ${stats.tokens.total} tokens`)
console.table(stats.byType)

await tracker.shutdown()
handler.close?.()
server.closeAllConnections()
await new Promise((resolve) => server.close(resolve))
await closeStore()
