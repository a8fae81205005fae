/**
 * `docs/benchmarks.md` holds one generated section per suite that writes docs, between
 * `<!-- bench:<suite> -->` and `<!-- /bench:<suite> -->`; `--write-docs` replaces that section
 * and leaves the hand-written text around it alone.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The benchmarks page, from the repository root. */
export const DOCS_PAGE = join(dirname(fileURLToPath(import.meta.url)), '../../../docs/benchmarks.md')

/** Whether this run was asked to write its tables into the docs page. */
export const writeDocsRequested = (): boolean => process.argv.includes('--write-docs')

/**
 * Replaces the section of `suite` in the benchmarks page with `markdown`.
 *
 * @throws when the page has no markers for `suite` (the section must be placed by hand first).
 */
export function writeDocsSection(suite: string, markdown: string): void {
  const start = `<!-- bench:${suite} -->`
  const end = `<!-- /bench:${suite} -->`
  const page = readFileSync(DOCS_PAGE, 'utf8')
  const from = page.indexOf(start)
  const to = page.indexOf(end)
  if (from === -1 || to < from) {
    throw new Error(`[usertracking] [bench] ${DOCS_PAGE} has no ${start} … ${end} section to write.`)
  }
  writeFileSync(DOCS_PAGE, `${page.slice(0, from + start.length)}\n\n${markdown.trim()}\n\n${page.slice(to)}`)
  console.log(`\nWrote the ${suite} section of ${DOCS_PAGE}.`)
}
