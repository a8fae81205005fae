import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { freePort } from '../../../test/support/src/free-port'

/** Where Debian's `google-cloud-cli-firestore-emulator` package puts the emulator. */
export const DEFAULT_JAR = '/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar'
const READY = 'Dev App Server is now running'
const START_TIMEOUT_MS = 120_000

/** The emulator jar: FIRESTORE_EMULATOR_JAR, else where the Debian package puts it; undefined when absent. */
export function emulatorJar(): string | undefined {
  const jar = process.env.FIRESTORE_EMULATOR_JAR || DEFAULT_JAR
  return existsSync(jar) ? jar : undefined
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

/** A running emulator: its `host:port`, and how to stop it. */
export interface RunningEmulator {
  host: string
  stop(): Promise<void>
}

/**
 * Starts Google's Cloud Firestore emulator from its jar with Java (not through firebase-tools, which
 * refuses Java 17 from version 15 on and otherwise downloads the jar) on `port` of 127.0.0.1 (a
 * free one by default), and resolves once it says it is running.
 */
export async function startEmulator(jar: string, port?: number): Promise<RunningEmulator> {
  port ??= await freePort()
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
  return {
    host: `127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
}
