import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { lockDirectory, unlockDirectory } from '@usertracking/node'

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

/**
 * Opens the data folder (created with mode 700), locked to this process: PGlite's files must never
 * have two writers. `reset` empties it first, unless another demo holds it.
 */
export async function openDataFolder(folder: string, options: { reset?: boolean } = {}): Promise<DataFolder> {
  const dir = resolve(folder)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const holder = lockDirectory(dir)
  if (holder !== undefined) {
    throw new Error(`[demo] Another demo (process ${holder}) is using ${dir}. Stop it first, or give this one its own folder with --data <folder>.`)
  }
  const release = async () => unlockDirectory(dir)
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
