/**
 * What a site ships for browser tracking: each SDK bundled by esbuild from a one-line entry that
 * initialises it and tracks one event, minified (browser ESM, ES2022, production), then gzipped,
 * all in this one run. @usertracking/browser comes from its built `dist` and core's, as from npm.
 * Dynamic imports are bundled in, so an SDK that loads parts lazily is counted whole.
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '../..')
/** Issue 10's target for the full durable build (1 KB = 1000 B); CI's budget is in packages/browser/scripts/size.ts. */
const TARGET_BYTES = 8_000

const entries: { name: string; code: string }[] = [
  {
    name: '@usertracking/browser',
    code: `import { UserTracking } from '@usertracking/browser'; UserTracking.config({ endpoint: '/api/activity' }); UserTracking.track('signup', 'cta', { plan: 'pro' })`,
  },
  {
    name: '@usertracking/browser/lite',
    code: `import { UserTracking } from '@usertracking/browser/lite'; UserTracking.config({ endpoint: '/api/activity' }); UserTracking.track('signup', 'cta', { plan: 'pro' })`,
  },
  {
    name: 'posthog-js',
    code: `import posthog from 'posthog-js'; posthog.init('phc_bench', { api_host: 'https://example.invalid' }); posthog.capture('signup', { plan: 'pro' })`,
  },
  {
    name: '@segment/analytics-next',
    code: `import { AnalyticsBrowser } from '@segment/analytics-next'; AnalyticsBrowser.load({ writeKey: 'bench' }).track('signup', { plan: 'pro' })`,
  },
  {
    name: '@amplitude/analytics-browser',
    code: `import * as amplitude from '@amplitude/analytics-browser'; amplitude.init('bench'); amplitude.track('signup', { plan: 'pro' })`,
  },
]

async function measure(code: string): Promise<{ minified: number; gzipped: number }> {
  const result = await build({
    stdin: { contents: code, resolveDir: benchDir, sourcefile: 'entry.js', loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    define: { 'process.env.NODE_ENV': '"production"' },
    write: false,
    logLevel: 'silent',
  })
  const bytes = result.outputFiles[0]!.contents
  return { minified: bytes.byteLength, gzipped: gzipSync(bytes, { level: 9 }).byteLength }
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1)
const results = []
for (const entry of entries) results.push({ ...entry, ...(await measure(entry.code)) })
const ours = results[0]!

console.log('| SDK (init + one event) | minified KiB | gzip KiB | gzip vs @usertracking/browser |')
console.log('| --- | ---: | ---: | ---: |')
for (const result of results) {
  const ratio = result === ours ? '1×' : `${(result.gzipped / ours.gzipped).toFixed(1)}×`
  console.log(`| ${result.name} | ${kb(result.minified)} | ${kb(result.gzipped)} | ${ratio} |`)
}
console.log(`\n@usertracking/browser: ${ours.gzipped} B gzipped against issue 10's ${TARGET_BYTES} B target (${TARGET_BYTES - ours.gzipped >= 0 ? `${TARGET_BYTES - ours.gzipped} B under` : `${ours.gzipped - TARGET_BYTES} B over`}).`)
