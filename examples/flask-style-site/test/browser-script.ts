import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * The site serves the browser package's built script tag, `dist/usertracking.global.js`. CI builds
 * every package before the tests; a fresh clone has no `dist`, so this builds the browser package
 * (and core, which it bundles) once, before the suite starts.
 */
export default function buildBrowserScript(): void {
  const script = fileURLToPath(new URL('../../../packages/browser/dist/usertracking.global.js', import.meta.url))
  if (existsSync(script)) return
  console.log('[flask-style-site] packages/browser/dist is missing: building @usertracking/browser and core first.')
  execFileSync('pnpm', ['--filter', '@usertracking/browser...', 'run', 'build'], {
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    stdio: 'inherit',
    timeout: 300_000,
  })
}
