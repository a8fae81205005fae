import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures')

describe('track() after a drained burst (Node, V8)', () => {
  // What `pnpm bench delivery` measures per call: a second burst after the first was delivered.
  // Code thrown away in between (at the first delivery, by the GC after the queue drained, or at
  // the first call of the second burst) runs that burst in the interpreter at two to three times
  // the cost.
  it('keeps the optimised code of the first burst', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@usertracking/source',
        '--allow-natives-syntax',
        '--expose-gc',
        '--no-concurrent-recompilation',
        join(fixtures, 'warm-track.ts'),
      ],
      { timeout: 60_000 },
    )
    const { optimized, lost } = JSON.parse(stdout) as { optimized: string[]; lost: string[] }
    expect(optimized).toContain('track')
    expect(lost).toEqual([])
  })
})
