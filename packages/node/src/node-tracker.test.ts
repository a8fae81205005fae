import { mkdtempSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { memorySink } from '@usertracking/core'
import { afterEach, describe, expect, it } from 'vitest'
import { startCollector, type Collector } from '../test/collector'
import { createNodeTracker, type NodeTracker } from './node-tracker'
import { runWithContext } from './request-context'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'usertracking-node-tracker-'))
}

async function collector(): Promise<Collector> {
  const started = await startCollector()
  cleanups.push(() => started.close())
  return started
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
}

function nodeTracker(options: Parameters<typeof createNodeTracker>[0]): NodeTracker {
  const tracker = createNodeTracker({ shutdownHooks: false, ...options })
  cleanups.push(() => tracker.shutdown({ timeoutMs: 1000 }))
  return tracker
}

describe('createNodeTracker', () => {
  it('delivers to url through a file storage in the given directory', async () => {
    const server = await collector()
    const tracker = nodeTracker({ url: server.url, dir: tempDir(), debounceTime: 0 })
    expect(tracker.storage).toMatchObject({ mode: 'file' })
    const id = tracker.track({ userId: 'abc123', activityType: 'resume_generation', tokenUsage: 1420, timeTaken: 3.2 })
    expect(await tracker.flush(5000)).toBe(true)
    expect(server.received.get(id!)).toMatchObject({ userId: 'abc123', tokenUsage: { total: 1420 }, durationMs: 3200 })
  })

  it('applies the call, then the request context, then defaults', async () => {
    const sink = memorySink()
    const tracker = nodeTracker({
      sinks: [sink],
      dir: false,
      defaults: { userId: 'default-user', sessionId: 'default-session', metadata: { app: 'gateway' }, context: { region: 'eu' } },
    })
    runWithContext({ userId: 'context-user', requestId: 'r1', metadata: { plan: 'pro' } }, () => {
      tracker.track({ activityType: 'a' })
      tracker.track({ activityType: 'b', userId: 'own-user', metadata: { step: 1 } })
    })
    tracker.track({ activityType: 'c' })
    await tracker.flush(5000)
    expect(sink.activities.map(({ activityType, userId, sessionId, metadata, context }) => ({ activityType, userId, sessionId, metadata, context }))).toEqual([
      { activityType: 'a', userId: 'context-user', sessionId: 'default-session', metadata: { app: 'gateway', plan: 'pro' }, context: { region: 'eu', requestId: 'r1' } },
      { activityType: 'b', userId: 'own-user', sessionId: 'default-session', metadata: { app: 'gateway', plan: 'pro', step: 1 }, context: { region: 'eu', requestId: 'r1' } },
      { activityType: 'c', userId: 'default-user', sessionId: 'default-session', metadata: { app: 'gateway' }, context: { region: 'eu' } },
    ])
  })

  it('installs its shutdown hooks beside those of the application, and removes them once shut down', async () => {
    const before = ['SIGTERM', 'SIGINT', 'beforeExit'].map((event) => process.listenerCount(event))
    const tracker = createNodeTracker({ sinks: [memorySink()], dir: false })
    expect(['SIGTERM', 'SIGINT', 'beforeExit'].map((event) => process.listenerCount(event))).toEqual(before.map((count) => count + 1))
    await tracker.shutdown()
    expect(['SIGTERM', 'SIGINT', 'beforeExit'].map((event) => process.listenerCount(event))).toEqual(before)
  })

  it('still tracks, with the request context, when the defaults function throws', async () => {
    const sink = memorySink()
    const tracker = nodeTracker({
      sinks: [sink],
      dir: false,
      defaults: () => {
        throw new Error('session store unavailable')
      },
    })
    const id = runWithContext({ userId: 'u1' }, () => tracker.track({ activityType: 'job_match' }))
    expect(id).toBeDefined()
    await tracker.flush(5000)
    expect(sink.activities.map((activity) => [activity.activityType, activity.userId])).toEqual([['job_match', 'u1']])
  })

  it('needs somewhere to deliver', () => {
    expect(() => createNodeTracker({ dir: false })).toThrow('[usertracking] [node] createNodeTracker needs options.url or options.sinks.')
  })
})

describe('serverless: a platform that freezes the process after the response', () => {
  it('delivers before the response when the handler awaits flush()', async () => {
    const server = await collector()
    // Batch timers a minute away stand in for a process that is frozen before they fire.
    const tracker = nodeTracker({ url: server.url, dir: tempDir(), debounceTime: 60_000, flushInterval: 60_000 })
    const url = await listen(
      createServer(async (_request, response) => {
        tracker.track({ activityType: 'deleted', userId: 6 })
        await tracker.flush(2000)
        response.end('ok')
      }),
    )
    await fetch(url)
    expect([...server.received.values()].map((activity) => activity.activityType)).toEqual(['deleted'])
  })

  it('hands delivery to waitUntil, which the platform awaits after responding', async () => {
    const server = await collector()
    const handedOver: Promise<unknown>[] = []
    const tracker = nodeTracker({
      url: server.url,
      dir: tempDir(),
      debounceTime: 60_000,
      flushInterval: 60_000,
      waitUntil: (promise) => handedOver.push(promise),
    })
    const url = await listen(
      createServer((_request, response) => {
        tracker.track({ activityType: 'job_match', userId: 'abc123' })
        response.end('ok')
      }),
    )
    await fetch(url)
    expect(handedOver.length).toBeGreaterThan(0)
    await Promise.all(handedOver)
    expect([...server.received.values()].map((activity) => activity.activityType)).toEqual(['job_match'])
  })
})
