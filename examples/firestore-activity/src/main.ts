/**
 * Runs the story-1 backend on node:http with firebase-admin's default credentials (or the emulator
 * at FIRESTORE_EMULATOR_HOST). `PORT` picks the port (default 3000).
 */
import { createServer } from 'node:http'
import { toNodeListener } from '@usertracking/server'
import { initializeApp } from 'firebase-admin/app'
import { getAuth } from 'firebase-admin/auth'
import { getFirestore } from 'firebase-admin/firestore'
import { createActivityApp } from './app'

const app = initializeApp()
const { handler } = createActivityApp({ db: getFirestore(app), verifyIdToken: (token) => getAuth(app).verifyIdToken(token) })
const port = Number(process.env.PORT ?? 3000)
createServer(toNodeListener(handler)).listen(port, () => {
  console.log(`My Activities API on http://localhost:${port}/api (POST /activity, GET /activities, /activities/stats, /activities/export, /activities/stream)`)
})
