/**
 * Runs every benchmark suite, one after another in fresh processes (so one suite's heap and
 * sockets never colour the next one's numbers), and lets each print its own table.
 * `pnpm bench delivery` runs only the suites whose file name contains `delivery`; arguments that
 * start with `--` (and the value after `--only` / `--measures`) go to every suite run, e.g.
 * `pnpm bench delivery server --write-docs`.
 *
 * Suites import the packages' built `dist` (the bench script builds first), as users do: the
 * source, run through tsx, carries transform helpers that would distort the numbers.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const suitesDir = join(dirname(fileURLToPath(import.meta.url)), 'suites')
// Options that take a value; the value is passed on with its option, not read as a suite name.
const VALUED = new Set(['--only', '--measures'])
const args = process.argv.slice(2)
const forwarded: string[] = []
const only: string[] = []
for (let index = 0; index < args.length; index++) {
  const arg = args[index]!
  if (!arg.startsWith('--')) only.push(arg)
  else {
    forwarded.push(arg)
    if (VALUED.has(arg) && index + 1 < args.length) forwarded.push(args[++index]!)
  }
}
const suites = readdirSync(suitesDir)
  .filter((file) => file.endsWith('.ts'))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort()

let failed = false
for (const suite of suites) {
  console.log(`\n## ${suite.replace(/\.ts$/, '')}\n`)
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--expose-gc', join(suitesDir, suite), ...forwarded],
    { stdio: 'inherit' },
  )
  if (result.status !== 0) {
    console.error(`suite ${suite} failed with exit code ${result.status}`)
    failed = true
  }
}
process.exit(failed ? 1 : 0)
