import { chmodSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { startFixture } from '../test/run-fixture'

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'usertracking-disk-'))
  chmodSync(dir, 0o755)
  return dir
}

async function report(name: string, args: string[], options: Parameters<typeof startFixture>[2] = {}): Promise<Record<string, unknown>> {
  const fixture = startFixture(name, args, options)
  const { code } = await fixture.exited
  expect(code, fixture.stderr()).toBe(0)
  const lines = fixture.stdout().trim().split('\n')
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>
}

// A private mount namespace gives the child a real tmpfs without touching the host's mounts.
function inPrivateMount(script: string, dir: string): string[] {
  return ['unshare', '--mount', 'sh', '-c', script, 'sh', dir]
}

describe('fileStorage when the disk fails (real child processes)', () => {
  it('keeps working through a full disk, delivers everything, and writes again once there is space', async () => {
    const dir = tempDir()
    // sh receives `node <args…>` after the script's own arguments: "$@" runs it inside the namespace.
    const script = 'dir="$1"; shift; mount -t tmpfs -o size=64k tmpfs "$dir" && exec "$@"'
    const result = await report('disk-trouble', ['full', dir], { wrapper: inPrivateMount(script, dir) })
    expect(result.modeWhenFull).toBe('memory')
    expect(result.deliveredWhileFull).toBe(200)
    expect(result.modeAfterFreed).toBe('file')
    expect(result.delivered).toBe(203)
    expect(result.warnings).toEqual([
      expect.stringMatching(/^\[usertracking\] \[file-storage\] Could not write to the journal in .* \(ENOSPC\); pending activities are kept in memory only/),
      expect.stringMatching(/is written again/),
    ])
  })

  it('delivers what a read-only file system holds and keeps tracking in memory (EROFS)', async () => {
    const dir = tempDir()
    const script = [
      'dir="$1"; shift',
      'mount -t tmpfs -o size=1m tmpfs "$dir" || exit 90',
      '"$@" seed "$dir" || exit 91',
      'mount -o remount,ro "$dir" || exit 92',
      'exec "$@" readonly "$dir"',
    ].join('\n')
    const fixture = startFixture('disk-trouble', [], { wrapper: inPrivateMount(script, dir) })
    const { code } = await fixture.exited
    expect(code, fixture.stderr()).toBe(0)
    const [seed, readonly] = fixture.stdout().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(seed).toEqual({ seeded: 2 })
    expect(readonly).toMatchObject({ mode: 'memory', tracked: 2, types: ['seeded', 'seeded', 'tracked_readonly', 'tracked_readonly'] })
    expect(readonly!.warnings).toEqual([expect.stringMatching(/Could not open the journal .* \(EROFS\)/)])
  })

  it('delivers what an unwritable directory holds and keeps tracking in memory (EACCES)', async () => {
    const dir = tempDir()
    expect(await report('disk-trouble', ['seed', dir])).toEqual({ seeded: 2 })
    chmodSync(dir, 0o555)
    for (const file of readdirSync(dir)) chmodSync(join(dir, file), 0o444)
    // Root ignores permissions, so the tracking process drops to nobody once its modules are loaded
    // (spawning it as nobody would fail to load them from a checkout under a mode-700 directory).
    const result = await report('disk-trouble', ['readonly', dir], { env: { ...process.env, DROP_TO_UID: '65534' } })
    expect(result).toMatchObject({ mode: 'memory', tracked: 2, types: ['seeded', 'seeded', 'tracked_readonly', 'tracked_readonly'] })
    expect(result.warnings).toEqual([expect.stringMatching(/Could not open the journal .* \(EACCES\)/)])
  })
})
