/**
 * The size budget, checked in CI: `pnpm --filter @usertracking/react size` bundles every export
 * with esbuild (minified, browser ESM) — and a whole page, with the client from its built `dist`
 * as an app gets it from npm — with React left out (the app has it already), gzips them, and
 * exits non-zero above the budget or when any of core's runtime (zod above all) got in: the
 * package imports core's and the client's types only. The
 * stylesheet is measured too, and reported on its own.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build, transform } from 'esbuild'

/** 15 KiB gzipped: the budget of every hook and component, React excluded. */
const BUDGET_BYTES = 15 * 1024

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
for (const name of ['core', 'client']) {
  if (!existsSync(join(root, `../${name}/dist/index.js`))) {
    console.error(`[usertracking] [react] size: @usertracking/${name} is not built; run \`pnpm --filter @usertracking/${name} build\` first.`)
    process.exit(1)
  }
}

async function measure(contents: string) {
  const result = await build({
    stdin: { contents, resolveDir: root, sourcefile: 'entry.ts', loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    external: ['react', 'react/jsx-runtime', 'react-dom'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  const code = result.outputFiles[0]!.contents
  const inputs = Object.entries(Object.values(result.metafile.outputs)[0]!.inputs)
    .map(([path, input]) => [path.replace(/^.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, ''), input.bytesInOutput] as const)
    .filter(([, bytes]) => bytes > 0)
    .sort((left, right) => right[1] - left[1])
  return { minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength, inputs }
}

const [all, page, counter] = await Promise.all([
  measure(`export * from './src/index.ts'`),
  // What a "My Activities" page ships: the component, and the client the app creates for it.
  measure(`export { ActivityProvider, MyActivities } from './src/index.ts'\nexport { createActivityClient } from '@usertracking/client'`),
  measure(`export { ActivityProvider, LiveCounter } from './src/index.ts'`),
])
const css = (await transform(readFileSync(join(root, 'src/styles.css'), 'utf8'), { loader: 'css', minify: true })).code
const cssGzipped = gzipSync(css, { level: 9 }).byteLength

const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`
console.log('| bundle (esbuild, minified, browser ESM, React external) | minified | gzip | budget |')
console.log('| --- | ---: | ---: | --- |')
console.log(`| every export of @usertracking/react | ${kb(all.minified)} | **${kb(all.gzipped)}** (${all.gzipped} B) | ${kb(BUDGET_BYTES)} |`)
console.log(`| \`MyActivities\` + \`createActivityClient\` (a whole page) | ${kb(page.minified)} | ${kb(page.gzipped)} (${page.gzipped} B) | — |`)
console.log(`| \`LiveCounter\` alone | ${kb(counter.minified)} | ${kb(counter.gzipped)} (${counter.gzipped} B) | — |`)
console.log(`| styles.css | ${kb(css.length)} | ${kb(cssGzipped)} (${cssGzipped} B) | — |`)
console.log('\n| input (every export) | minified bytes |\n| --- | ---: |')
for (const [path, bytes] of all.inputs) console.log(`| ${path} | ${bytes} |`)

let failed = false
for (const file of ['dist/index.js', 'dist/index.cjs']) {
  const path = join(root, file)
  if (!existsSync(path) || !readFileSync(path, 'utf8').startsWith("'use client';")) {
    console.error(`[usertracking] [react] size: ${file} does not start with 'use client' (run the build first).`)
    failed = true
  }
}
if (!failed) console.log("\ndist/index.js and dist/index.cjs start with 'use client'.")
const foreign = all.inputs.filter(([path]) => path.includes('zod') || path.includes('core/'))
if (foreign.length > 0) {
  console.error(`\n[usertracking] [react] size: unexpected runtime in the bundle: ${foreign.map(([path]) => path).join(', ')}.`)
  failed = true
}
if (all.gzipped > BUDGET_BYTES) {
  console.error(`[usertracking] [react] size: every export is ${all.gzipped} B gzipped, ${all.gzipped - BUDGET_BYTES} B over the ${BUDGET_BYTES} B budget.`)
  failed = true
} else console.log(`\n${BUDGET_BYTES - all.gzipped} B under the ${kb(BUDGET_BYTES)} budget.`)
process.exit(failed ? 1 : 0)
