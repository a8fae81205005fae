import { deleteApp, initializeApp as initializeAdminApp, type App } from 'firebase-admin/app'
import { getFirestore as getAdminFirestore, type Firestore as AdminDb } from 'firebase-admin/firestore'
import { deleteApp as deleteWebApp, initializeApp, type FirebaseApp } from 'firebase/app'
import { connectFirestoreEmulator, getFirestore, setLogLevel, terminate, type Firestore as WebDb } from 'firebase/firestore'
import { inject } from 'vitest'

/** `host:port` of the emulator the globalSetup started, or null when it could not (no jar). */
export const emulatorHost: string | null = inject('firestoreEmulator')

if (emulatorHost) {
  process.env.FIRESTORE_EMULATOR_HOST = emulatorHost
  // Otherwise firebase-admin looks for a metadata server, off this machine, to find credentials.
  process.env.METADATA_SERVER_DETECTION = 'none'
}
// The web SDK logs every refused write at warn level; the tests assert on those refusals.
setLogLevel('error')

let counter = 0

/** A project id no other test file (or earlier test) uses: the emulator keeps each project's data apart. */
export function uniqueProjectId(prefix: string): string {
  counter += 1
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`
}

const adminApps: App[] = []
const webApps: { app: FirebaseApp; db: WebDb }[] = []

/** A firebase-admin Firestore on the emulator. */
export function adminDb(projectId: string): AdminDb {
  const app = initializeAdminApp({ projectId }, `admin-${projectId}-${adminApps.length}`)
  adminApps.push(app)
  return getAdminFirestore(app)
}

/**
 * A web SDK Firestore on the emulator, signed in as `uid` (an emulator token the security rules
 * see as `request.auth`), or as the emulator's `owner` (which bypasses the rules), or anonymous.
 */
export function webDb(projectId: string, auth: { uid: string; admin?: boolean } | 'owner' | 'anonymous' = 'owner'): WebDb {
  const app = initializeApp({ projectId, apiKey: 'emulator' }, `web-${projectId}-${webApps.length}`)
  const db = getFirestore(app)
  const [host, port] = emulatorHost!.split(':') as [string, string]
  const mockUserToken =
    auth === 'owner' ? 'owner' : auth === 'anonymous' ? undefined : { sub: auth.uid, user_id: auth.uid, ...(auth.admin ? { admin: true } : {}) }
  connectFirestoreEmulator(db, host, Number(port), mockUserToken ? { mockUserToken } : {})
  webApps.push({ app, db })
  return db
}

/** Deletes every document of a project (the emulator's REST endpoint). */
export async function clearProject(projectId: string): Promise<void> {
  const response = await fetch(`http://${emulatorHost}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE' })
  if (!response.ok) throw new Error(`Clearing ${projectId} failed: ${response.status} ${await response.text()}`)
}

/** Loads security rules into the emulator for one project. */
export async function loadRules(projectId: string, rules: string): Promise<void> {
  const response = await fetch(`http://${emulatorHost}/emulator/v1/projects/${projectId}:securityRules`, {
    method: 'PUT',
    body: JSON.stringify({ rules: { files: [{ name: 'firestore.rules', content: rules }] } }),
  })
  if (!response.ok) throw new Error(`Loading rules into ${projectId} failed: ${response.status} ${await response.text()}`)
}

/** Closes every client the tests opened. */
export async function closeClients(): Promise<void> {
  await Promise.all([
    ...adminApps.splice(0).map((app) => deleteApp(app)),
    ...webApps.splice(0).map(async ({ app, db }) => {
      await terminate(db)
      await deleteWebApp(app)
    }),
  ])
}
