import { firestoreStore } from '@usertracking/firestore'
import { createActivityHandler, type ActivityHandler, type Principal } from '@usertracking/server'
import type { Firestore } from 'firebase-admin/firestore'

/** Who a Firebase ID token belongs to; `getAuth().verifyIdToken` in production. */
export type VerifyIdToken = (token: string) => Promise<{ uid: string; admin?: unknown }>

/**
 * The backend of the AI app's "My Activities" page (story 1), in one web-standard handler:
 *
 * - `POST /api/activity` with the app's own payload (`timeTaken` in seconds, `tokenUsage` a number)
 *   → 200 `{ accepted, ids }`, or 400 with the fields at fault;
 * - `GET /api/activities` (filters, sorting by date / duration / tokens, cursor pages),
 *   `/api/activities/stats`, `/api/activities/export?format=csv|json` and
 *   `/api/activities/stream` (Server-Sent Events, fed by Firestore's `onSnapshot`, so writes made
 *   by any process reach the page).
 *
 * Each request carries the Firebase ID token of the signed-in user (`Authorization: Bearer …`); a
 * user reads and writes only their own activities, a token with the `admin` claim reads everyone's.
 */
export function createActivityApp(options: { db: Firestore; verifyIdToken: VerifyIdToken; onError?: (error: unknown) => void }): {
  handler: ActivityHandler
  store: ReturnType<typeof firestoreStore>
} {
  const store = firestoreStore({ db: options.db, ...(options.onError ? { onError: options.onError } : {}) })
  const handler = createActivityHandler({
    store,
    // The app's users are signed in; nobody logs activities anonymously.
    allowAnonymousIngest: false,
    authenticate: async (request): Promise<Principal | null> => {
      const token = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1]
      if (!token) return null
      try {
        const user = await options.verifyIdToken(token)
        return { userId: user.uid, admin: user.admin === true }
      } catch {
        return null
      }
    },
    ...(options.onError ? { onError: options.onError } : {}),
  })
  return { handler, store }
}
