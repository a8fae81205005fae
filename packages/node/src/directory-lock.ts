import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const LOCK_FILE = 'lock'
const heldHere = new Set<string>()

/** What a lock file says about its holder. Old lock files hold the pid alone. */
interface LockRecord {
  pid: number
  /** The holder's start time in clock ticks since boot (`/proc/<pid>/stat`, field 22). */
  start?: string
  /** The boot the holder ran in (`/proc/sys/kernel/random/boot_id`). */
  boot?: string
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    // No procfs (macOS, Windows), or the process is gone.
    return undefined
  }
}

/**
 * A process's start time in clock ticks since boot, or `undefined` where procfs is missing. With
 * the pid, it names one process for the life of the machine: a pid is reused, a (pid, start) pair
 * is not.
 */
export function processStart(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`)
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
  const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ')
  return fields?.[19]
}

function bootId(): string | undefined {
  return readProc('/proc/sys/kernel/random/boot_id')?.trim()
}

/** When procfs is there: the Unix time, in milliseconds, at which `pid` started. */
function startedAtMs(pid: number): number | undefined {
  const ticks = Number(processStart(pid))
  const boot = /^btime (\d+)$/m.exec(readProc('/proc/stat') ?? '')?.[1]
  // USER_HZ is 100 on every Linux architecture Node runs on.
  return Number.isFinite(ticks) && boot ? Number(boot) * 1000 + ticks * 10 : undefined
}

function parseLock(text: string): LockRecord | undefined {
  try {
    const parsed = JSON.parse(text) as unknown
    if (typeof parsed === 'number') return { pid: parsed }
    const record = parsed as Partial<LockRecord> | null
    if (typeof record?.pid !== 'number') return undefined
    return { pid: record.pid, start: typeof record.start === 'string' ? record.start : undefined, boot: typeof record.boot === 'string' ? record.boot : undefined }
  } catch {
    return undefined
  }
}

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
 * Whether the process a lock names still runs. A live pid is not enough: after a container restart
 * every process has a low pid again, so the lock of a dead process names a live but unrelated one
 * (often pid 1). Where procfs exists the lock holds its process's start time and boot id, and only
 * that exact process counts; an old pid-only lock counts only if its process started before the
 * lock was written.
 */
function holderAlive(record: LockRecord, lockPath: string): boolean {
  const { pid } = record
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !isAlive(pid)) return false
  const boot = bootId()
  if (record.boot && boot && record.boot !== boot) return false
  const start = processStart(pid)
  if (start === undefined) return true
  if (record.start !== undefined) return record.start === start
  const startedAt = startedAtMs(pid)
  // A second of slack: btime and the tick count are coarse.
  return startedAt === undefined || startedAt <= statSync(lockPath).mtimeMs + 1000
}

/**
 * Takes the directory for this process, so that two writers never share it (`fileStorage` locks its
 * journal directory with it; an app can lock its own data folder the same way, e.g. for PGlite,
 * whose files must never have two writers). The lock is a file named `lock` in the directory.
 * A lock left by a process that is gone (killed, crashed, or from before a container restart) is
 * taken over. A lock naming this very process but not held by it is also stale: in a container
 * every restart is pid 1.
 *
 * @returns the pid of the live process that holds the directory, or `undefined` once it is ours.
 */
export function lockDirectory(dir: string): number | undefined {
  const key = resolve(dir)
  if (heldHere.has(key)) return process.pid
  const path = join(key, LOCK_FILE)
  const record = JSON.stringify({ pid: process.pid, start: processStart(process.pid), boot: bootId() })
  try {
    writeFileSync(path, record, { flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const holder = parseLock(readFileSync(path, 'utf8'))
    if (holder && holderAlive(holder, path)) return holder.pid
    writeFileSync(path, record)
  }
  heldHere.add(key)
  return undefined
}

/** Gives back a directory taken with {@link lockDirectory}; a directory this process does not hold is left alone. */
export function unlockDirectory(dir: string): void {
  const key = resolve(dir)
  if (!heldHere.delete(key)) return
  try {
    unlinkSync(join(key, LOCK_FILE))
  } catch {
    // Already gone, or the directory became unwritable: the next process takes a stale lock over.
  }
}
