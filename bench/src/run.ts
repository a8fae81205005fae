/**
 * Runs every benchmark suite, one after another in fresh processes (so one suite's heap and
 * sockets never colour the next one's numbers), and lets each print its own table.
 * `pnpm bench core` runs only the suites whose file name contains `core`.
 *
 * Suites import the packages' built `dist` (the bench script builds first), as users do: the
 * source, run through tsx, carries transform helpers that would distort the numbers.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const suitesDir = join(dirname(fileURLToPath(import.meta.url)), 'suites')
const only = process.argv.slice(2)
const suites = readdirSync(suitesDir)
  .filter((file) => file.endsWith('.ts'))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort()

let failed = false
for (const suite of suites) {
  console.log(`\n## ${suite.replace(/\.ts$/, '')}\n`)
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--expose-gc', join(suitesDir, suite)],
    { stdio: 'inherit' },
  )
  if (result.status !== 0) {
    console.error(`suite ${suite} failed with exit code ${result.status}`)
    failed = true
  }
}
process.exit(failed ? 1 : 0)
