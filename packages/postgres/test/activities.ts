import type { Activity } from '@usertracking/core'
import { uuidv7 } from '@usertracking/core'

export const signal = new AbortController().signal

/** Strings that have broken hand-written activity logs: SQL, NUL, emoji, and sheer length. */
export const NASTY = [
  "'); DROP TABLE user_activities; --",
  'a\u0000b \u0000 \\u0000 \\\\u0000 \uFDD0 \uFDD00 \uFDD0\uFDD0',
  '👩‍💻🚀 ünïcödé 中文 עברית',
  'tab\tnewline\nreturn\r "quotes" \\backslash',
]

/** One activity with a nasty value in every field that holds text or JSON. */
export function nastyActivity(text: string, index = 0): Activity {
  return {
    id: uuidv7(),
    activityType: `${text}:type`.slice(0, 200),
    timestamp: new Date(Date.UTC(2025, 6, 6, 10, 5, index)).toISOString(),
    endTime: new Date(Date.UTC(2025, 6, 6, 10, 6, index)).toISOString(),
    durationMs: 3200.5 + index,
    userId: `${text}:user`,
    anonymousId: `${text}:anonymous`,
    sessionId: `${text}:session`,
    description: text.repeat(50),
    status: 'error',
    error: `${text}:error`,
    tokenUsage: { input: 1000, output: 420, total: 1420, cacheRead: 7, model: `${text}:model` },
    context: { page: text, userAgent: text, ip: '192.168.1.10', [`${text}:key`]: [text, { [text]: null }] },
    metadata: { jobTitle: text, [text]: { nested: [1, 2.5, true, null, text] }, empty: {}, list: [] },
  }
}

/** A plain, valid activity. */
export function activity(overrides: Partial<Activity> = {}): Activity {
  return {
    id: uuidv7(),
    activityType: 'chat_completion',
    timestamp: new Date().toISOString(),
    userId: 'u1',
    metadata: { model: 'gpt-4o' },
    ...overrides,
  }
}

/** The activity as it reads back, minus the `receivedAt` the store stamps. */
export function withoutReceivedAt({ receivedAt: _receivedAt, ...rest }: Activity): Activity {
  return rest
}
