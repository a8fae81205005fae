import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'

/** The demo's folder of state kept between runs: the database, pending activities, the session secret. */
export interface DataFolder {
  dir: string
  /** Where PGlite keeps the database. */
  databaseDir: string
  /** Where the server's tracker journals activities not yet stored. */
  journalDir: string
  /** The key that signs sign-in cookies, so they survive a restart. */
  secret: Buffer
  /** Lets another demo process use the folder. */
  release(): Promise<void>
}

const LOCK = 'demo.pid'
/** Folders this process holds: its own pid in a lock file is then a live holder, not a stale one. */
const held = new Set<string>()

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Takes the folder's lock (a pid file), or fails naming the process that holds it. */
async function lock(dir: string): Promise<void> {
  const path = join(dir, LOCK)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx', 0o600)
      await file.writeFile(String(process.pid))
      await file.close()
      held.add(dir)
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim())
      if (Number.isInteger(holder) && holder > 0 && (holder === process.pid ? held.has(dir) : alive(holder))) {
        throw new Error(`[demo] Another demo (process ${holder}) is using ${dir}. Stop it first, or give this one its own folder with --data <folder>.`)
      }
      // Left by a demo that was killed: take it over.
      await unlink(path).catch(() => {})
    }
  }
  throw new Error(`[demo] Could not lock ${dir}.`)
}

/**
 * Opens the data folder (created with mode 700), locked to this process: PGlite's files must never
 * have two writers. `reset` empties it first, unless another demo holds it.
 */
export async function openDataFolder(folder: string, options: { reset?: boolean } = {}): Promise<DataFolder> {
  const dir = resolve(folder)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await lock(dir)
  const release = async () => {
    held.delete(dir)
    await unlink(join(dir, LOCK)).catch(() => {})
  }
  try {
    if (options.reset) {
      for (const name of ['database', 'journal', 'session-secret']) await rm(join(dir, name), { recursive: true, force: true })
    }
    const secretPath = join(dir, 'session-secret')
    let secret = await readFile(secretPath).catch(() => undefined)
    if (!secret || secret.length < 32) {
      secret = randomBytes(32)
      await writeFile(secretPath, secret, { mode: 0o600 })
    }
    return {
      dir,
      databaseDir: join(dir, 'database'),
      journalDir: join(dir, 'journal'),
      secret,
      release,
    }
  } catch (error) {
    await release()
    throw error
  }
}
