import type { TestProject } from 'vitest/node'
import { DEFAULT_JAR, emulatorJar, startEmulator } from './emulator-process'

declare module 'vitest' {
  export interface ProvidedContext {
    /** `host:port` of the Firestore emulator this run started, or null when it could not. */
    firestoreEmulator: string | null
  }
}

/**
 * Vitest globalSetup: starts Google's Cloud Firestore emulator on a free port, hands its address
 * to the tests, and stops it afterwards. Without the jar the tests say loudly that they did not
 * run; under CI=true that fails the run instead.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const jar = emulatorJar()
  if (jar === undefined) {
    const message = `the Firestore emulator jar is not at ${process.env.FIRESTORE_EMULATOR_JAR || DEFAULT_JAR} (install the Debian package google-cloud-cli-firestore-emulator, or set FIRESTORE_EMULATOR_JAR)`
    if (process.env.CI) throw new Error(`[usertracking] [firestore] CI=true but ${message}.`)
    console.warn(`\n*** [usertracking] [firestore] DID NOT RUN the Firestore tests: ${message}. ***\n`)
    project.provide('firestoreEmulator', null)
    return undefined
  }
  const emulator = await startEmulator(jar)
  project.provide('firestoreEmulator', emulator.host)
  return () => emulator.stop()
}
