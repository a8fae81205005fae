import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const LOCK_FILE = 'lock'
const heldHere = new Set<string>()

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the directory for this process, so that two journals never interleave in one directory.
 * A lock left by a process that is gone (killed, crashed) is taken over. A lock naming this very
 * process but not held by it is also stale: in a container every restart is pid 1.
 *
 * @returns the pid of the live process that holds the directory, or `undefined` once it is ours.
 */
export function lockDirectory(dir: string): number | undefined {
  const key = resolve(dir)
  if (heldHere.has(key)) return process.pid
  const path = join(key, LOCK_FILE)
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const holder = Number.parseInt(readFileSync(path, 'utf8'), 10)
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) return holder
    writeFileSync(path, String(process.pid))
  }
  heldHere.add(key)
  return undefined
}

/** Gives the directory back. */
export function unlockDirectory(dir: string): void {
  const key = resolve(dir)
  if (!heldHere.delete(key)) return
  try {
    unlinkSync(join(key, LOCK_FILE))
  } catch {
    // Already gone, or the directory became unwritable: the next process takes a stale lock over.
  }
}
