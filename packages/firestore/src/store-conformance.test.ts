import { afterAll, describe } from 'vitest'
import { describeStoreConformance } from '@usertracking/testkit'
import { adminDb, clearProject, closeClients, emulatorHost, uniqueProjectId, webDb } from '../test/emulator'
import { firestoreStore } from './index'

afterAll(closeClients)

describe.runIf(emulatorHost)('on the Firestore emulator', () => {
  describeStoreConformance('firestore (firebase-admin)', async (options) => {
    const projectId = uniqueProjectId('conformance-admin')
    return { store: firestoreStore({ db: adminDb(projectId), ...options }), cleanup: () => clearProject(projectId) }
  })

  describeStoreConformance('firestore (web SDK)', async (options) => {
    const projectId = uniqueProjectId('conformance-web')
    return { store: firestoreStore({ db: webDb(projectId), ...options }), cleanup: () => clearProject(projectId) }
  })
})
