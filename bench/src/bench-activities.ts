import { uuidv7, type Activity } from '@usertracking/core'

const TYPES = ['resume_generation', 'job_match', 'chat_completion', 'page_view']

/**
 * `count` typical activities of about 400 bytes each, what the store benches write: one every
 * 10 ms up to now, spread over `spread.users` users and `spread.sessions` sessions (few for a
 * store whose per-user cost is the question, many for a large table's indexes).
 */
export function benchActivities(count: number, spread: { users: number; sessions: number }): Activity[] {
  const start = Date.now() - count * 10
  return Array.from({ length: count }, (_, index) => ({
    id: uuidv7(start + index * 10),
    userId: `user-${index % spread.users}`,
    sessionId: `session-${index % spread.sessions}`,
    activityType: TYPES[index % TYPES.length]!,
    description: 'Tailored resume for Amazon job',
    timestamp: new Date(start + index * 10).toISOString(),
    durationMs: 3200 + (index % 1000),
    status: 'success',
    tokenUsage: { input: 900 + (index % 100), output: 520, total: 1420 + (index % 100), model: 'gpt-4o-mini' },
    context: { page: '/resume/tailor', ip: '192.168.1.10', userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)' },
    metadata: { jobTitle: 'Data Engineer', resumeLength: '2 pages', promptType: 'tailor' },
  }))
}
