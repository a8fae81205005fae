import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

describe('the demo (pnpm start)', () => {
  it('tracks the five apps’ activities into embedded PostgreSQL and reads them back over HTTP', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--conditions=@usertracking/source', 'src/main.ts'], {
      cwd: root,
      timeout: 60_000,
    })
    expect(stdout).toContain('PostgreSQL (embedded PGlite)')
    expect(stdout).toContain('6 activities, 3 users, 1520 tokens')
    for (const type of ['resume_generation', 'deleted', 'button_click', 'page_visit', 'session_created', 'chat_completion']) {
      expect(stdout).toContain(type)
    }
    expect(stdout).toMatch(/droppedByReason: \{ invalid: 1 \}/)
  })
})
