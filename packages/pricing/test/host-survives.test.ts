import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..')

function runErrorPaths(mode: 'bare' | 'wrapped'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--conditions=@usertracking/source', join(packageRoot, 'test', 'fixtures', 'error-paths.ts'), mode],
      { cwd: packageRoot, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

describe('the host process survives every error path (a real Node process, no test runner)', () => {
  it('exits 0 with and without withActivity, and records every failing call', async () => {
    const [bare, wrapped] = await Promise.all([runErrorPaths('bare'), runErrorPaths('wrapped')])
    // Without the wrapper the app's own error handling is enough …
    expect(bare.stderr).not.toContain('Unhandled')
    expect(bare.code).toBe(0)
    // … and the wrapper adds no unhandled rejection, while recording each call.
    expect(wrapped.stderr).not.toContain('Unhandled')
    expect(wrapped.code).toBe(0)
    const scenarios = [...wrapped.stdout.matchAll(/^ran /gm)].length
    expect(scenarios).toBe(15)
    expect(wrapped.stdout).toContain(`done ${scenarios} of ${scenarios}`)
  }, 90_000)
})
