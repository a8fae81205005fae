import { createServer, type Server, type Socket } from 'node:net'
import type { Activity } from '@usertracking/core'
import { describeSinkConformance } from '@usertracking/testkit'
import { afterAll, describe } from 'vitest'
import { adminDb, clearProject, closeClients, emulatorHost, uniqueProjectId, webDb } from '../test/emulator'
import { firestoreStore, type FirestoreStore } from './index'

afterAll(closeClients)

/** A TCP server that accepts connections and never answers: a Firestore endpoint that hangs. */
let silent: { server: Server; sockets: Set<Socket> } | undefined

async function silentHost(): Promise<string> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => sockets.delete(socket))
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  silent = { server, sockets }
  return `127.0.0.1:${(server.address() as { port: number }).port}`
}

function closeSilent(): Promise<void> {
  const current = silent
  silent = undefined
  if (!current) return Promise.resolve()
  for (const socket of current.sockets) socket.destroy()
  return new Promise((resolve) => current.server.close(() => resolve()))
}

describe.runIf(emulatorHost)('on the Firestore emulator', () => {
  for (const sdk of ['firebase-admin', 'web SDK'] as const) {
    let projectId: string | undefined
    let store: FirestoreStore | undefined

    describeSinkConformance(`firestoreStore(…).sink (${sdk})`, {
      create() {
        projectId = uniqueProjectId(`sink-${sdk === 'web SDK' ? 'web' : 'admin'}`)
        store = firestoreStore({ db: sdk === 'web SDK' ? webDb(projectId) : adminDb(projectId) })
        return store.sink
      },
      async stored() {
        const activities: Activity[] = []
        for await (const activity of store!.export()) activities.push(activity)
        return activities
      },
      async createHanging() {
        const host = await silentHost()
        if (sdk === 'web SDK') {
          const { initializeApp } = await import('firebase/app')
          const { connectFirestoreEmulator, getFirestore } = await import('firebase/firestore')
          const db = getFirestore(initializeApp({ projectId: 'hanging', apiKey: 'emulator' }, `hanging-web-${host}`))
          const [hostname, port] = host.split(':') as [string, string]
          connectFirestoreEmulator(db, hostname, Number(port))
          return firestoreStore({ db }).sink
        }
        const { initializeApp } = await import('firebase-admin/app')
        const { getFirestore } = await import('firebase-admin/firestore')
        // FIRESTORE_EMULATOR_HOST, set for the working emulator, takes precedence over `settings.host`
        // in firebase-admin: with it set, this sink would write to the working emulator, not hang.
        const emulatorEnv = process.env.FIRESTORE_EMULATOR_HOST
        delete process.env.FIRESTORE_EMULATOR_HOST
        let db: ReturnType<typeof getFirestore>
        try {
          db = getFirestore(initializeApp({ projectId: 'hanging' }, `hanging-admin-${host}`))
          // ssl: false is what firebase-admin takes for an emulator: no credentials are looked up.
          db.settings({ host, ssl: false })
        } finally {
          process.env.FIRESTORE_EMULATOR_HOST = emulatorEnv
        }
        // Not terminated afterwards: firebase-admin rejects a request in flight unhandled when terminated.
        return firestoreStore({ db }).sink
      },
      async cleanup() {
        await closeSilent()
        if (projectId !== undefined) await clearProject(projectId)
        projectId = undefined
        store = undefined
      },
    })
  }
})
