import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startCollector, type Collector } from '../test/collector'
import { startFixture } from '../test/run-fixture'

const collectors: Collector[] = []
afterEach(async () => {
  await Promise.all(collectors.splice(0).map((collector) => collector.close()))
})

async function collector(mode: Collector['mode'] = 'up'): Promise<Collector> {
  const started = await startCollector(mode)
  collectors.push(started)
  return started
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'usertracking-shutdown-'))
}

describe('shutdown hooks (real child processes)', () => {
  it('on SIGTERM delivers what is pending, then ends by the signal as it would have', async () => {
    const server = await collector()
    const app = startFixture('server-app', [tempDir(), server.url, '5000'])
    await app.waitFor('ready')
    expect(server.received.size).toBe(0)
    app.child.kill('SIGTERM')
    const { code, signal } = await app.exited
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' })
    expect(server.received.size).toBe(50)
  })

  it('on SIGINT does the same', async () => {
    const server = await collector()
    const app = startFixture('server-app', [tempDir(), server.url, '5000'])
    await app.waitFor('ready')
    app.child.kill('SIGINT')
    expect((await app.exited).signal).toBe('SIGINT')
    expect(server.received.size).toBe(50)
  })

  it('ends within the timeout when the sink hangs during SIGTERM, and the next start delivers what was left', async () => {
    const dir = tempDir()
    const hanging = await collector('hang')
    const app = startFixture('server-app', [dir, hanging.url, '1000'])
    await app.waitFor('ready')
    app.child.kill('SIGTERM')
    // The fixture's writes time out after ten minutes, far past this test's own limit: the process
    // ending at all means the 1 s shutdown timeout ended it, with the write still hanging.
    const { signal } = await app.exited
    expect(signal).toBe('SIGTERM')
    expect(hanging.requests).toBeGreaterThan(0)
    expect(hanging.received.size).toBe(0)

    const server = await collector()
    const drain = startFixture('crash-tracker', [dir, server.url, 'drain'])
    await drain.waitFor('drained')
    expect(drain.stdout()).toContain('drained true 0')
    expect(server.received.size).toBe(50)
  })

  it('leaves the exit to an application SIGTERM listener, keeps its exit code, and delivers what it tracks while winding down', async () => {
    const server = await collector()
    const app = startFixture('server-app', [tempDir(), server.url, '5000', 'own-handler'])
    await app.waitFor('ready')
    app.child.kill('SIGTERM')
    const { code, signal } = await app.exited
    expect(app.stdout()).toContain('app handler')
    expect({ code, signal }).toEqual({ code: 7, signal: null })
    expect(server.received.size).toBe(51)
    expect([...server.received.values()].filter((activity) => activity.metadata?.duringShutdown)).toHaveLength(1)
  })

  it('delivers before a script ends by itself, keeping its exit code', async () => {
    const server = await collector()
    const script = startFixture('short-script', [tempDir(), server.url])
    const { code } = await script.exited
    expect(code).toBe(3)
    expect(server.received.size).toBe(20)
  })

  it('does not hold a finished script when the sink is down', async () => {
    const down = await collector('down')
    const script = startFixture('short-script', [tempDir(), down.url, '1000'])
    // Retries alone would go on for an hour (maxRetryTimeMs), far past this test's own limit: the
    // script ending at all means the 1 s shutdown timeout let it go.
    const { code } = await script.exited
    expect(code).toBe(3)
    expect(down.requests).toBeGreaterThan(0)
  })

  it('keeps a script alive while it awaits flush, even when only a retry is pending', async () => {
    const down = await collector('down')
    const script = startFixture('short-script', [tempDir(), down.url, '500', 'await-flush'])
    const { code } = await script.exited
    expect(script.stdout()).toContain('flushed false')
    expect(code).toBe(3)
  })
})
