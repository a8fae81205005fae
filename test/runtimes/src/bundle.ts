import { mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/** test/runtimes: bundles are written under it, so Deno and Bun find its node_modules (the drivers). */
export const runtimesRoot = join(dirname(fileURLToPath(import.meta.url)), '..')
/** The fixtures folder. */
export const fixtures = join(runtimesRoot, 'src', 'fixtures')

/** The package.json conditions each runtime resolves with (what wrangler, Deno and Bun use). */
export const RUNTIME_CONDITIONS = {
  workerd: ['workerd', 'worker', 'browser'],
  browser: ['browser'],
  deno: ['deno', 'node'],
  bun: ['bun', 'node'],
} as const

/** Options of {@link bundle}. */
export interface BundleOptions {
  /** Whose package.json conditions to resolve with. */
  conditions: keyof typeof RUNTIME_CONDITIONS
  /** Bundle the workspace packages from `src` (`@usertracking/source`) rather than their built `dist`. @default true */
  source?: boolean
  /** Imports left to the runtime: its own modules (`cloudflare:*`) and the drivers it loads from node_modules. */
  external?: string[]
}

/** This process's bundles (and Deno's cache of them); {@link removeBundles} deletes them. */
export const buildDir = join(runtimesRoot, '.build', String(process.pid))

/** Deletes this process's bundles: call it in `afterAll` of a file that bundles. */
export async function removeBundles(): Promise<void> {
  await rm(buildDir, { recursive: true, force: true })
}

let counter = 0

/**
 * Bundles `entry` into one ES module for a runtime, the way a user's bundler (wrangler is esbuild)
 * would, and returns the file's path. Platform `neutral`: nothing of Node is assumed, so a Node
 * built-in that is not listed in `external` fails the build.
 *
 * @param entry - the entry file.
 * @param options - see {@link BundleOptions}.
 */
export async function bundle(entry: string, options: BundleOptions): Promise<string> {
  await mkdir(buildDir, { recursive: true })
  const outfile = join(buildDir, `${options.conditions}-${++counter}.mjs`)
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: [...(options.source === false ? [] : ['@usertracking/source']), ...RUNTIME_CONDITIONS[options.conditions]],
    external: options.external ?? [],
    logLevel: 'silent',
  })
  return outfile
}
