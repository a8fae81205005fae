import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import type { TestProject } from 'vitest/node'

/** Where Debian's `google-cloud-cli-firestore-emulator` package puts the emulator. */
export const DEFAULT_JAR = '/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar'
const READY = 'Dev App Server is now running'
const START_TIMEOUT_MS = 120_000

declare module 'vitest' {
  export interface ProvidedContext {
    /** `host:port` of the Firestore emulator this run started, or null when it could not. */
    firestoreEmulator: string | null
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

function waitForReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => fail(new Error(`it did not say "${READY}" within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes(READY)) {
        clearTimeout(timer)
        resolve()
      }
    }
    function fail(error: Error) {
      clearTimeout(timer)
      reject(new Error(`[usertracking] [firestore] The Firestore emulator did not start: ${error.message}\n${output.slice(-2000)}`))
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('error', fail)
    child.once('exit', (code) => fail(new Error(`it exited with code ${code}`)))
  })
}

/**
 * Vitest globalSetup: starts Google's Cloud Firestore emulator (the jar, with Java; not through
 * firebase-tools) on a free port, hands its address to the tests, and stops it afterwards. Without
 * the jar the tests say loudly that they did not run; under CI=true that fails the run instead.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const jar = process.env.FIRESTORE_EMULATOR_JAR || DEFAULT_JAR
  if (!existsSync(jar)) {
    const message = `the Firestore emulator jar is not at ${jar} (install the Debian package google-cloud-cli-firestore-emulator, or set FIRESTORE_EMULATOR_JAR)`
    if (process.env.CI) throw new Error(`[usertracking] [firestore] CI=true but ${message}.`)
    console.warn(`\n*** [usertracking] [firestore] DID NOT RUN the Firestore tests: ${message}. ***\n`)
    project.provide('firestoreEmulator', null)
    return undefined
  }
  const port = await freePort()
  const child = spawn(
    'java',
    ['-Xmx1g', '-cp', jar, 'com.google.cloud.datastore.emulator.firestore.CloudFirestore', '--host', '127.0.0.1', '--port', String(port)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  try {
    await waitForReady(child)
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  // Keep reading its output so a full pipe never blocks the emulator.
  child.stdout?.resume()
  child.stderr?.resume()
  project.provide('firestoreEmulator', `127.0.0.1:${port}`)
  return async () => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
}
