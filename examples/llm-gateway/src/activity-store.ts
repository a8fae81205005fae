import { postgresStore, type ActivityMapping, type PostgresClient, type PostgresStore } from '@usertracking/postgres'

/**
 * How an activity lands in the gateway's own `activity` table, row for row as the seed's
 * "Example Activity Log Entry":
 *
 * | activity | `activity` row |
 * | --- | --- |
 * | `userId` `'21'` (the gateway's `users.id`) | `user_id` 21 |
 * | `activityType` | `action` |
 * | `timestamp` | `created_at` |
 * | `tokenUsage.model`, `tokenUsage.total`, `sessionId` | `details.model`, `details.tokens_used`, `details.session_id` (a number, as `chat_sessions.id`) |
 * | `metadata` (`privy_user_id`, …) | spread into `details` |
 * | `id` | `details.activity_id`, unique: a retried batch is stored once |
 * | anything else (duration, status, input / output tokens …) | `details`, under its own name |
 *
 * The table keeps no received time (`receivedAt: false`).
 */
export const ACTIVITY_MAPPING: ActivityMapping = {
  fields: {
    userId: { column: 'user_id', write: (id) => Number(id), read: (id) => String(id) },
    activityType: 'action',
    timestamp: 'created_at',
    sessionId: { key: 'session_id', write: (id) => Number(id), read: (id) => String(id) },
    'tokenUsage.total': { key: 'tokens_used' },
    'tokenUsage.model': { key: 'model' },
    id: { key: 'activity_id' },
    receivedAt: false,
  },
  json: 'details',
}

/** The store over the gateway's `activity` table in `schema`; its `migrate()` checks the table and adds the id's unique index. */
export function activityStore(client: PostgresClient, schema: string): PostgresStore {
  return postgresStore({ client, schema, table: 'activity', mapping: ACTIVITY_MAPPING })
}
