/**
 * The size budget, checked in CI: `pnpm --filter @usertracking/browser size` bundles what a site
 * ships with esbuild (minified, browser ESM) against @usertracking/core's built `dist` — as an app
 * would get it from npm — gzips it, prints what the bytes go to, and exits non-zero when the ESM
 * entry is over budget or when zod got into the bundle.
 */
import { gzipSync } from 'node:zlib'
import { existsSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Metafile } from 'esbuild'

/** 10 KiB gzipped: the budget of the ESM entry. */
const BUDGET_BYTES = 10 * 1024

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const coreDist = join(root, '../core/dist/index.js')

interface Measured {
  minified: number
  gzipped: number
  metafile: Metafile
}

async function measure(entry: string, format: 'esm' | 'iife', conditions: string[] = []): Promise<Measured> {
  const result = await build({
    // A file path for the script tag build (it is all side effects); source text for the others.
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

const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`

if (!existsSync(coreDist)) {
  console.error('[usertracking] [browser] size: @usertracking/core is not built; run `pnpm --filter @usertracking/core build` first.')
  process.exit(1)
}

const app = `import { UserTracking } from './src/index.ts'
UserTracking.config({ endpoint: '/api/activity' })
UserTracking.track('custom_action', 'element-id', { custom_data: 'value' })`
const [used, entry, script, fromSource] = await Promise.all([
  measure(app, 'esm'),
  measure(`export * from './src/index.ts'`, 'esm'),
  measure('src/script.ts', 'iife'),
  measure(app, 'esm', ['@usertracking/source']),
])

const zod = inputs(entry.metafile).filter(([path]) => /(^|\/)zod\//.test(path))
console.log('| bundle (esbuild, minified) | minified | gzip | budget |')
console.log('| --- | ---: | ---: | --- |')
console.log(`| ESM: \`import { UserTracking }\`, config + track | ${kb(used.minified)} | **${kb(used.gzipped)}** (${used.gzipped} B) | ${kb(BUDGET_BYTES)} |`)
console.log(`| ESM: every export of the entry | ${kb(entry.minified)} | **${kb(entry.gzipped)}** (${entry.gzipped} B) | ${kb(BUDGET_BYTES)} |`)
console.log(`| IIFE script tag (window.UserTracking) | ${kb(script.minified)} | ${kb(script.gzipped)} (${script.gzipped} B) | — |`)
console.log('\nWhat the minified bytes of `import { UserTracking }` go to (core from its built dist, then from source):\n')
console.log('| input | minified bytes |')
console.log('| --- | ---: |')
for (const [path, bytes] of inputs(used.metafile)) console.log(`| ${relative(root, join(root, path)).replace(/^(\.\.\/)+/, '')} | ${bytes} |`)
console.log('\n| core source file (same bundle built from core\'s source) | minified bytes |')
console.log('| --- | ---: |')
for (const [path, bytes] of inputs(fromSource.metafile).filter(([path]) => path.includes('core/src'))) {
  console.log(`| ${path.replace(/^.*core\/src\//, 'core/src/')} | ${bytes} |`)
}

let failed = false
if (zod.length > 0) {
  console.error(`\n[usertracking] [browser] size: zod is in the browser bundle (${zod.map(([path]) => path).join(', ')}).`)
  failed = true
} else {
  console.log('\nzod: absent from the bundle (core builds activitySchema in one /* @__PURE__ */ call).')
}
for (const [name, measured] of [['import { UserTracking }', used], ['the whole ESM entry', entry]] as const) {
  if (measured.gzipped > BUDGET_BYTES) {
    console.error(`[usertracking] [browser] size: ${name} is ${measured.gzipped} B gzipped, ${measured.gzipped - BUDGET_BYTES} B over the ${BUDGET_BYTES} B budget.`)
    failed = true
  }
}
if (!failed) console.log(`${BUDGET_BYTES - entry.gzipped} B under the ${kb(BUDGET_BYTES)} budget for the whole ESM entry.`)
process.exit(failed ? 1 : 0)
