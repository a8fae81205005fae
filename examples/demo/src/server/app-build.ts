import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, defaultClientConditions, type InlineConfig } from 'vite'

const require = createRequire(import.meta.url)
/** The React app's sources (its `index.html` is Vite's entry). */
export const APP_DIR = fileURLToPath(new URL('../app', import.meta.url))
/** Where the built app goes by default: `examples/demo/dist` (git-ignored). */
export const DEFAULT_BUILD_DIR = fileURLToPath(new URL('../../dist', import.meta.url))
const STAMP = 'build-stamp.json'

/** The packages bundled into the page, read from source like the tests (`@usertracking/source`). */
const BUNDLED = ['@usertracking/browser', '@usertracking/client', '@usertracking/core', '@usertracking/react']
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`))

/** A hash of everything the build reads, so a changed source (the app's or a package's) builds again. */
async function sourceHash(): Promise<string> {
  const hash = createHash('sha256')
  for (const dir of [APP_DIR, ...BUNDLED.map((name) => join(packageDir(name), 'src'))]) {
    const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile() && !/\.test\.tsx?$/.test(entry.name))
      .map((entry) => join(entry.parentPath, entry.name))
      .sort()
    for (const file of files) hash.update(relative(dir, file)).update('\0').update(await readFile(file)).update('\0')
  }
  return hash.digest('hex')
}

async function stampOf(dir: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(join(dir, STAMP), 'utf8')) as { hash?: string }).hash
  } catch {
    return undefined
  }
}

/** What {@link ensureAppBuilt} did. */
export interface AppBuild {
  /** The folder to serve. */
  dir: string
  /** Whether it built now (false: the last build was current). */
  built: boolean
  /** How long the check and the build took, in ms. */
  durationMs: number
}

/**
 * Builds the app with Vite unless `dir` already holds a build of the current sources: the React
 * pages, and the script-tag build of `@usertracking/browser` as `/usertracking.js`. The build goes
 * to a temporary folder that replaces `dir` at the end, so a process serving `dir` (or building it
 * at the same time) never sees half a build.
 */
export async function ensureAppBuilt(options: { dir?: string; force?: boolean } = {}): Promise<AppBuild> {
  const started = performance.now()
  const dir = options.dir ?? DEFAULT_BUILD_DIR
  const hash = await sourceHash()
  if (!options.force && (await stampOf(dir)) === hash) return { dir, built: false, durationMs: performance.now() - started }
  const temporary = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  const shared: InlineConfig = {
    configFile: false,
    root: APP_DIR,
    logLevel: 'warn',
    clearScreen: false,
    // The packages' sources, as the tests read them: no package build needed on a fresh clone.
    resolve: { conditions: ['@usertracking/source', ...defaultClientConditions] },
  }
  try {
    await build({ ...shared, build: { outDir: temporary, emptyOutDir: true, reportCompressedSize: false } })
    // The script tag of @usertracking/browser: one self-contained file defining window.UserTracking.
    await build({
      ...shared,
      build: {
        outDir: temporary,
        emptyOutDir: false,
        copyPublicDir: false,
        reportCompressedSize: false,
        lib: { entry: join(packageDir('@usertracking/browser'), 'src/script.ts'), formats: ['iife'], name: 'UserTrackingScript', fileName: () => 'usertracking.js' },
      },
    })
    await writeFile(join(temporary, STAMP), JSON.stringify({ hash, builtAt: new Date().toISOString() }))
    // Another demo process (a test beside this one) finished the same build meanwhile and may be serving it: keep theirs.
    if ((await stampOf(dir)) === hash) return { dir, built: true, durationMs: performance.now() - started }
    await rm(dir, { recursive: true, force: true })
    await rename(temporary, dir).catch(async (error: unknown) => {
      // Another demo process finished the same build first: theirs is as good.
      if ((await stampOf(dir)) !== hash) throw error
    })
  } finally {
    await rm(temporary, { recursive: true, force: true })
  }
  return { dir, built: true, durationMs: performance.now() - started }
}
