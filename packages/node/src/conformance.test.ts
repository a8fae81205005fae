import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeStorageConformance } from '../../testkit/src/index'
import { fileStorage } from './file-storage'

const dirs: string[] = []
describeStorageConformance('fileStorage', {
  create() {
    const dir = mkdtempSync(join(tmpdir(), 'usertracking-conformance-'))
    dirs.push(dir)
    return fileStorage({ dir })
  },
  reopen: () => fileStorage({ dir: dirs.at(-1)! }),
  cleanup() {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  },
  paging: true,
  spillJson: true,
  syncWrites: true,
})
