import type { Activity } from '@usertracking/core'
import { deleteApp, initializeApp } from 'firebase-admin/app'
import { getFirestore } from 'firebase-admin/firestore'
import { describe, expect, it } from 'vitest'
import { emulatorJar, startEmulator } from '../test/emulator-process'
import { emulatorHost, uniqueProjectId } from '../test/emulator'
import { firestoreStore } from './index'

const signal = new AbortController().signal

function activity(description: string): Activity {
  return { id: crypto.randomUUID(), activityType: 'resume_generation', timestamp: new Date().toISOString(), userId: 'abc123', description }
}

// firebase-admin reconnects a listener to a restarted backend by itself (no error reaches onError);
// listeners that do fail are listened again by the store (security-rules.test.ts).
describe.runIf(emulatorHost)('subscribe across an emulator restart', () => {
  it('pushes what is written after the backend stopped and came back, and never throws', { timeout: 240_000 }, async () => {
    const jar = emulatorJar()!
    let emulator = await startEmulator(jar)
    const host = emulator.host
    const projectId = uniqueProjectId('restart')
    // The emulator of this file only: its own port, not the one the other tests share.
    const app = initializeApp({ projectId }, `restart-${projectId}`)
    const db = getFirestore(app)
    db.settings({ host, ssl: false })
    const errors: unknown[] = []
    const received: string[] = []
    const store = firestoreStore({ db, onError: (error) => errors.push(error) })
    const stop = store.subscribe({ userId: 'abc123' }, (activities) => received.push(...activities.map((row) => row.description!)))
    try {
      await store.sink.write([activity('before')], { signal })
      await expect.poll(() => received, { timeout: 30_000 }).toEqual(['before'])

      await emulator.stop()
      emulator = await startEmulator(jar, Number(host.split(':')[1]))
      // The restarted emulator starts empty: a write after it is back must reach the listener.
      await expect.poll(async () => (await store.sink.write([activity('after')], { signal })).type, { timeout: 60_000 }).toBe('success')
      await expect.poll(() => received, { timeout: 120_000 }).toContain('after')
      expect(received.filter((description) => description === 'before')).toHaveLength(1)
    } finally {
      stop()
      await emulator.stop()
      await deleteApp(app).catch(() => undefined)
    }
  })
})
