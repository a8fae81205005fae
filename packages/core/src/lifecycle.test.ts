import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures')

describe('process lifetime (Node)', () => {
  it('an awaited flush() keeps the process alive until a pending retry delivers', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--conditions=@usertracking/source', join(fixtures, 'await-flush.ts')],
      { timeout: 30_000 },
    )
    expect(stdout.trim()).toBe('delivered=true stored=1')
  })
})
