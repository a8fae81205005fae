/**
 * The size budgets, checked in CI: `pnpm --filter @usertracking/browser size` bundles what a site
 * ships with esbuild (minified, browser, ES2022) against @usertracking/core's built `dist` — as an
 * app would get it from npm — gzips it, prints what the bytes go to, and exits non-zero when a
 * bundle is over its budget or when zod got into one.
 */
import { gzipSync } from 'node:zlib'
import { existsSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Metafile } from 'esbuild'

/**
 * Gzipped bytes (1 KB = 1000 B, as issue 10 counts them). The full build's budget is issue 10's
 * 8 KB: the build delivers through its own core (src/page-delivery.ts) rather than core's
 * `createCanonicalTracker`, which would cost about 2.5 KB more (see docs/browser.md, "Sizes").
 */
const FULL_BUDGET_BYTES = 8_000
/** The lite build's, in line with Plausible, Umami and OpenPanel (issue 10). */
const LITE_BUDGET_BYTES = 2_500

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const coreDist = join(root, '../core/dist/index.js')

interface Measured {
  minified: number
  gzipped: number
  metafile: Metafile
}

async function measure(entry: string, format: 'esm' | 'iife', conditions: string[] = []): Promise<Measured> {
  const result = await build({
    // A file path for the script tag builds (they are all side effects); source text for the others.
    ...(entry.endsWith('.ts') ? { entryPoints: [join(root, entry)] } : { stdin: { contents: entry, resolveDir: root, sourcefile: 'entry.ts', loader: 'ts' as const } }),
    bundle: true,
    minify: true,
    format,
    platform: 'browser',
    // What the package's own build targets, and every browser with the Web Locks API.
    target: 'es2022',
    conditions,
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  const code = result.outputFiles[0]!.contents
  return { minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength, metafile: result.metafile }
}

function inputs(metafile: Metafile): [string, number][] {
  const output = Object.values(metafile.outputs)[0]!
  return Object.entries(output.inputs)
    .map(([path, input]): [string, number] => [path.replace(/^.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, ''), input.bytesInOutput])
    .filter(([, bytes]) => bytes > 0)
    .sort((left, right) => right[1] - left[1])
}

const kb = (bytes: number) => `${(bytes / 1000).toFixed(2)} KB`

if (!existsSync(coreDist)) {
  console.error('[usertracking] [browser] size: @usertracking/core is not built; run `pnpm --filter @usertracking/core build` first.')
  process.exit(1)
}

const app = (from: string) => `import { UserTracking } from '${from}'
UserTracking.config({ endpoint: '/api/activity' })
UserTracking.track('custom_action', 'element-id', { custom_data: 'value' })`
const [full, fullEntry, fullScript, lite, liteScript, fromSource] = await Promise.all([
  measure(app('./src/index.ts'), 'esm'),
  measure(`export * from './src/index.ts'`, 'esm'),
  measure('src/script.ts', 'iife'),
  measure(app('./src/lite.ts'), 'esm'),
  measure('src/lite-script.ts', 'iife'),
  measure(app('./src/index.ts'), 'esm', ['@usertracking/source']),
])
const bundles: [name: string, measured: Measured, budget: number][] = [
  ['full ESM: `import { UserTracking }`, config + track', full, FULL_BUDGET_BYTES],
  ['full ESM: every export of the entry', fullEntry, FULL_BUDGET_BYTES],
  ['full IIFE script tag (usertracking.global.js)', fullScript, FULL_BUDGET_BYTES],
  ['lite ESM: `import { UserTracking }` from `/lite`, config + track', lite, LITE_BUDGET_BYTES],
  ['lite IIFE script tag (usertracking-lite.global.js)', liteScript, LITE_BUDGET_BYTES],
]

console.log('| bundle (esbuild, minified) | minified | gzip | budget |')
console.log('| --- | ---: | ---: | ---: |')
for (const [name, measured, budget] of bundles) {
  console.log(`| ${name} | ${kb(measured.minified)} | **${kb(measured.gzipped)}** (${measured.gzipped} B) | ${kb(budget)} |`)
}
for (const [title, measured] of [['the full build', full], ['the lite build', lite]] as const) {
  console.log(`\nWhat the minified bytes of ${title} go to (core from its built dist):\n`)
  console.log('| input | minified bytes |')
  console.log('| --- | ---: |')
  for (const [path, bytes] of inputs(measured.metafile)) console.log(`| ${relative(root, join(root, path)).replace(/^(\.\.\/)+/, '')} | ${bytes} |`)
}
console.log('\n| core source file (the full bundle built from core\'s source) | minified bytes |')
console.log('| --- | ---: |')
for (const [path, bytes] of inputs(fromSource.metafile).filter(([path]) => path.includes('core/src'))) {
  console.log(`| ${path.replace(/^.*core\/src\//, 'core/src/')} | ${bytes} |`)
}

let failed = false
const zod = bundles.flatMap(([, measured]) => inputs(measured.metafile)).filter(([path]) => /(^|\/)zod\//.test(path))
if (zod.length > 0) {
  console.error(`\n[usertracking] [browser] size: zod is in a browser bundle (${[...new Set(zod.map(([path]) => path))].join(', ')}).`)
  failed = true
} else {
  console.log('\nzod: absent from every bundle (core builds activitySchema in one /* @__PURE__ */ call).')
}
for (const [name, measured, budget] of bundles) {
  if (measured.gzipped > budget) {
    console.error(`[usertracking] [browser] size: ${name} is ${measured.gzipped} B gzipped, ${measured.gzipped - budget} B over its ${budget} B budget.`)
    failed = true
  }
}
if (!failed) console.log('Every bundle is within its budget.')
process.exit(failed ? 1 : 0)
