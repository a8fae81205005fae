/**
 * The size budget, checked in CI: `pnpm --filter @usertracking/client size` bundles the whole entry
 * with esbuild (minified, browser ESM) against @usertracking/core's built `dist` — as an app gets
 * it from npm — gzips it, and exits non-zero above the budget or when any of core's runtime (zod
 * above all) got into the bundle: the client imports core's types only.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

/** 3 KiB gzipped: the budget of the whole entry. */
const BUDGET_BYTES = 3 * 1024

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
if (!existsSync(join(root, '../core/dist/index.js'))) {
  console.error('[usertracking] [client] size: @usertracking/core is not built; run `pnpm --filter @usertracking/core build` first.')
  process.exit(1)
}

const result = await build({
  stdin: { contents: `export * from './src/index.ts'`, resolveDir: root, sourcefile: 'entry.ts', loader: 'ts' },
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  metafile: true,
  logLevel: 'silent',
})
const code = result.outputFiles[0]!.contents
const gzipped = gzipSync(code, { level: 9 }).byteLength
const inputs = Object.entries(Object.values(result.metafile.outputs)[0]!.inputs)
  .map(([path, input]) => [path.replace(/^.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, ''), input.bytesInOutput] as const)
  .filter(([, bytes]) => bytes > 0)

const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`
console.log('| bundle (esbuild, minified, browser ESM) | minified | gzip | budget |')
console.log('| --- | ---: | ---: | --- |')
console.log(`| every export of @usertracking/client | ${kb(code.byteLength)} | **${kb(gzipped)}** (${gzipped} B) | ${kb(BUDGET_BYTES)} |`)
console.log('\n| input | minified bytes |\n| --- | ---: |')
for (const [path, bytes] of inputs) console.log(`| ${path} | ${bytes} |`)

let failed = false
const foreign = inputs.filter(([path]) => path.includes('zod') || path.includes('core/'))
if (foreign.length > 0) {
  console.error(`\n[usertracking] [client] size: unexpected runtime in the bundle: ${foreign.map(([path]) => path).join(', ')}.`)
  failed = true
}
if (gzipped > BUDGET_BYTES) {
  console.error(`[usertracking] [client] size: the entry is ${gzipped} B gzipped, ${gzipped - BUDGET_BYTES} B over the ${BUDGET_BYTES} B budget.`)
  failed = true
} else console.log(`\n${BUDGET_BYTES - gzipped} B under the ${kb(BUDGET_BYTES)} budget.`)
process.exit(failed ? 1 : 0)
