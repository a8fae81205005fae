/**
 * @usertracking/firestore on Google's Cloud Firestore emulator (started here from its jar, as the
 * tests do): activities per second written through `store.sink`, as a tracker drives it (one write
 * in flight; batches of the tracker's default 100, then of 500, Firestore's largest commit), beside
 * one `add()` per activity, awaited in turn: what the story-1 app did from its API route. Over
 * firebase-admin and over the web SDK (whose sink writes each commit in a transaction). Also: the
 * sink re-sending every batch it already stored (a retry: ALREADY_EXISTS, one read, no write).
 *
 * The emulator is not production (no network, no replication, one JVM on a shared machine); the
 * ratios say what batching buys, not what a Firestore database does per second.
 */
import { TRACKER_DEFAULTS, type Activity } from '@usertracking/core'
import { benchActivities } from '../bench-activities'
import { emulatorJar, startEmulator } from '../../../packages/firestore/test/emulator-process'

const SINK_ROWS = 10_000
const NAIVE_ROWS = 1_000
const WEB_SINK_ROWS = 3_000
const WEB_NAIVE_ROWS = 500
const signal = new AbortController().signal

const jar = emulatorJar()
if (jar === undefined) {
  console.log('*** DID NOT RUN: the Firestore emulator jar is missing (Debian package google-cloud-cli-firestore-emulator). ***')
  process.exit(0)
}
const emulator = await startEmulator(jar)
process.env.FIRESTORE_EMULATOR_HOST = emulator.host
process.env.METADATA_SERVER_DETECTION = 'none'
// Imported once the emulator's address is in the environment, which firebase-admin reads.
const { initializeApp: initializeAdmin } = await import('firebase-admin/app')
const { getFirestore: getAdminFirestore } = await import('firebase-admin/firestore')
const { initializeApp } = await import('firebase/app')
const web = await import('firebase/firestore')
const { firestoreStore } = await import('@usertracking/firestore')
web.setLogLevel('error')

// ---------------------------------------------------------------- data: ~400-byte activities

const activities = (count: number): Activity[] => benchActivities(count, { users: 50, sessions: 200 })

/** What the app stored per activity: its own fields, the time as a Date. */
function naiveDocument(activity: Activity): Record<string, unknown> {
  return { ...activity, timestamp: new Date(activity.timestamp) }
}

let projects = 0
function adminDb() {
  projects += 1
  return getAdminFirestore(initializeAdmin({ projectId: `bench-${process.pid}-${projects}` }, `bench-${projects}`))
}
function webDb() {
  projects += 1
  const db = web.getFirestore(initializeApp({ projectId: `bench-${process.pid}-${projects}`, apiKey: 'emulator' }, `bench-web-${projects}`))
  const [host, port] = emulator.host.split(':') as [string, string]
  web.connectFirestoreEmulator(db, host, Number(port), { mockUserToken: 'owner' })
  return db
}

async function rate(count: number, work: () => Promise<void>): Promise<number> {
  const started = performance.now()
  await work()
  return count / ((performance.now() - started) / 1000)
}

async function sinkRate(store: ReturnType<typeof firestoreStore>, rows: Activity[], batch: number): Promise<number> {
  return rate(rows.length, async () => {
    for (let offset = 0; offset < rows.length; offset += batch) {
      const result = await store.sink.write(rows.slice(offset, offset + batch), { signal })
      if (result.type !== 'success' || result.rejected) throw new Error(`sink write failed: ${JSON.stringify(result)}`)
    }
  })
}

async function countAdmin(db: ReturnType<typeof adminDb>): Promise<number> {
  return (await db.collectionGroup('activities').count().get()).data().count
}

// ---------------------------------------------------------------- firebase-admin

const naiveAdminDb = adminDb()
const naiveAdminRows = activities(NAIVE_ROWS)
const naiveAdmin = await rate(NAIVE_ROWS, async () => {
  for (const row of naiveAdminRows) await naiveAdminDb.collection(`user-activities/${row.userId}/activities`).add(naiveDocument(row))
})

const rows = activities(SINK_ROWS)
const defaultDb = adminDb()
const defaultStore = firestoreStore({ db: defaultDb })
const adminDefault = await sinkRate(defaultStore, rows, TRACKER_DEFAULTS.batchSize)
if ((await countAdmin(defaultDb)) !== SINK_ROWS) throw new Error('the sink lost activities')
const adminRetry = await sinkRate(defaultStore, rows, TRACKER_DEFAULTS.batchSize)
if ((await countAdmin(defaultDb)) !== SINK_ROWS) throw new Error('a retried batch made duplicates')

const bigDb = adminDb()
const adminBig = await sinkRate(firestoreStore({ db: bigDb }), activities(SINK_ROWS), 500)
if ((await countAdmin(bigDb)) !== SINK_ROWS) throw new Error('the sink lost activities')

// ---------------------------------------------------------------- web SDK

const naiveWebDb = webDb()
const naiveWebRows = activities(WEB_NAIVE_ROWS)
const naiveWeb = await rate(WEB_NAIVE_ROWS, async () => {
  for (const row of naiveWebRows) await web.addDoc(web.collection(naiveWebDb, `user-activities/${row.userId}/activities`), naiveDocument(row))
})
const webStoreDb = webDb()
const webDefault = await sinkRate(firestoreStore({ db: webStoreDb }), activities(WEB_SINK_ROWS), TRACKER_DEFAULTS.batchSize)
const webBig = await sinkRate(firestoreStore({ db: webDb() }), activities(WEB_SINK_ROWS), 500)
const webCount = (await web.getCountFromServer(web.collectionGroup(webStoreDb, 'activities'))).data().count
if (webCount !== WEB_SINK_ROWS) throw new Error('the web SDK sink lost activities')

await emulator.stop()

const format = (value: number) => Math.round(value).toLocaleString('en-US')
console.log(`Firestore emulator (${emulator.host}), ~400-byte activities over 50 users; one write in flight.\n`)
console.log('| write path | activities | activities/s | vs one add() each |')
console.log('| --- | ---: | ---: | ---: |')
const line = (name: string, count: number, value: number, naive: number) =>
  console.log(`| ${name} | ${format(count)} | ${format(value)} | ${(value / naive).toFixed(1)}× |`)
line('firebase-admin: one `add()` per activity, awaited (the app before)', NAIVE_ROWS, naiveAdmin, naiveAdmin)
line(`**store.sink**, firebase-admin, batches of ${TRACKER_DEFAULTS.batchSize} (tracker default)`, SINK_ROWS, adminDefault, naiveAdmin)
line('store.sink, firebase-admin, batches of 500 (one commit each)', SINK_ROWS, adminBig, naiveAdmin)
line(`store.sink, firebase-admin, re-sending stored batches of ${TRACKER_DEFAULTS.batchSize} (retries)`, SINK_ROWS, adminRetry, naiveAdmin)
line('web SDK: one `addDoc()` per activity, awaited', WEB_NAIVE_ROWS, naiveWeb, naiveWeb)
line(`store.sink, web SDK, batches of ${TRACKER_DEFAULTS.batchSize} (a transaction each)`, WEB_SINK_ROWS, webDefault, naiveWeb)
line('store.sink, web SDK, batches of 500', WEB_SINK_ROWS, webBig, naiveWeb)
console.log(`\nstore.sink (firebase-admin, defaults): ${(adminDefault / naiveAdmin).toFixed(1)}× one add() per activity (target ≥ 10×).`)
process.exit(0)
