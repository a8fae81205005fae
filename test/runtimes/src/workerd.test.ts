import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { bundle, fixtures, removeBundles, runtimesRoot, type BundleOptions } from './bundle'
import { checkActivityApi, checkAnsweredBeforeDelivery, checkOutageRecovered, trackerState, trackMany, waitUntilSettled } from './checks'
import { startCollector, type Collector } from './collector'
import { createSchema, databaseAvailable, databaseUrl } from './database'
import type { AppConfig } from './fixtures/app'
import { requireRuntime } from './runtime'
import { startWorker, type StartWorkerOptions, type WorkerServer } from './workerd'

const workerd = requireRuntime('workerd')

describe.skipIf(!workerd)(`on workerd (${workerd?.version}, through miniflare)`, () => {
  let collector: Collector
  let edgeWorker: string
  const running: WorkerServer[] = []

  /** Runs a Worker built from `script` with this app config. */
  async function worker(script: string, config: AppConfig, options: StartWorkerOptions = {}): Promise<WorkerServer> {
    const server = await startWorker(script, { ...options, bindings: { ...options.bindings, APP_CONFIG: JSON.stringify(config) } })
    running.push(server)
    return server
  }

  beforeAll(async () => {
    // core and server only, no external import at all, run without nodejs_compat: the edge path.
    edgeWorker = await bundle(join(fixtures, 'edge-worker.ts'), { conditions: 'workerd' })
  })
  beforeEach(async () => {
    collector = await startCollector()
  })
  afterEach(async () => {
    await Promise.all(running.splice(0).map((server) => server.stop()))
    await collector.close()
  })
  afterAll(removeBundles)

  describe('a tracker at module scope, each request’s ctx.waitUntil lent to it', () => {
    it('answers 200 requests at once, before any delivery, and then delivers every activity once', async () => {
      const app = await worker(edgeWorker, { collectorUrl: collector.url, waitUntil: true })
      await checkAnsweredBeforeDelivery(app.url, collector)
    })

    it('retries through a sink outage within the waitUntil budget and delivers every activity once', async () => {
      const app = await worker(edgeWorker, {
        collectorUrl: collector.url,
        waitUntil: true,
        // The docs' Workers setting: give up on a batch inside Cloudflare's 30 s waitUntil budget.
        tracker: { writeTimeoutMs: 8000, maxRetryTimeMs: 12_000, retryBaseDelayMs: 100, retryMaxDelayMs: 500 },
      })
      await checkOutageRecovered(app.url, collector)
    })

    it('reports what an outage past the budget leaves undelivered as dropped, with the reason', async () => {
      const app = await worker(edgeWorker, {
        collectorUrl: collector.url,
        waitUntil: true,
        // A budget of 2 s stands for the 30 s one, so that the test stays short.
        tracker: { maxRetryTimeMs: 2000, retryBaseDelayMs: 100, retryMaxDelayMs: 500 },
      })
      collector.setMode({ kind: 'fail', status: 503 })
      const ids = await trackMany(app.url, 200)
      const { stats, drops } = await waitUntilSettled(app.url, collector)
      expect(collector.accepted.size).toBe(0)
      expect(stats).toMatchObject({ sent: 0, dropped: 200, failed: 200, droppedByReason: { retries_exhausted: 200 } })
      expect(drops.flatMap((drop) => drop.ids).sort()).toEqual([...ids].sort())
      for (const drop of drops) expect(drop).toMatchObject({ reason: 'retries_exhausted', sink: 'http', error: expect.stringContaining('503') })
    })
  })

  describe('track(); await tracker.flush(5000) in each request, without waitUntil', () => {
    it('never wedges: a write that died with the request that started it is sent again by the next request', async () => {
      const app = await worker(edgeWorker, { collectorUrl: collector.url, flushMs: 5000, tracker: { writeTimeoutMs: 2000, retryBaseDelayMs: 100 } })
      // Every request answers (none cancelled as hung, none a 500), whether or not its flush delivered.
      const ids = await trackMany(app.url, 200)
      // workerd cancels a request's pending fetch when it answers: the batch the first request sent
      // for all the others may have reached the collector, but its answer never reaches the tracker.
      let later: string[] = []
      for (let attempt = 0; attempt < 10 && (await trackerState(app.url)).stats.queued > 0; attempt++) {
        later = later.concat(await trackMany(app.url, 1, 1000 + attempt))
      }
      const { stats, drops } = await trackerState(app.url)
      expect(stats).toMatchObject({ queued: 0, dropped: 0, sent: 200 + later.length })
      expect(drops).toEqual([])
      // At least once: every activity reached the collector, some twice (the store dedupes those by id).
      expect([...ids, ...later].filter((id) => !collector.accepted.has(id))).toEqual([])
    })
  })

  describe('the activity API (createActivityHandler) as a Worker', () => {
    it('over the memory store', async () => {
      const app = await worker(edgeWorker, {})
      await checkActivityApi(app.url, 'worker-memory')
    })

    it.skipIf(!databaseAvailable)('over PostgreSQL through postgres.js on cloudflare:sockets, against the real server', async () => {
      const schema = await createSchema()
      try {
        const script = await bundle(join(fixtures, 'postgres-worker.ts'), { conditions: 'workerd', external: ['cloudflare:*', 'node:*'] })
        const app = await worker(script, { store: 'postgres' }, { nodejsCompat: true, bindings: { DATABASE_URL: databaseUrl, SCHEMA: schema.name } })
        await checkActivityApi(app.url, 'worker-postgres')
        // Stored once each, by the real server, despite the client's retry.
        expect(await schema.rows()).toHaveLength(30)
      } finally {
        await schema.drop()
      }
    })
  })

  describe('core and server keep Node out of their edge path', () => {
    const built = ['core', 'server'].every((name) => existsSync(join(runtimesRoot, '..', '..', 'packages', name, 'dist', 'index.js')))
    if (!built) {
      if (process.env.CI === 'true') throw new Error('[usertracking] [runtimes] CI=true but packages/core or packages/server has no dist: run `pnpm build` before the tests.')
      console.warn('\n*** [usertracking] [runtimes] DID NOT RUN the edge-path check of the built packages: run `pnpm build` first (the source was checked). ***\n')
    }

    const cases: { from: string; options: BundleOptions }[] = [
      { from: 'source, workerd conditions', options: { conditions: 'workerd' } },
      ...(built
        ? [
            { from: 'built dist, workerd conditions', options: { conditions: 'workerd', source: false } as BundleOptions },
            { from: 'built dist, browser conditions', options: { conditions: 'browser', source: false } as BundleOptions },
          ]
        : []),
    ]
    it.each(cases)('bundles ($from) with no import left outside, and runs without nodejs_compat', async ({ options }) => {
      const script = await bundle(join(fixtures, 'edge-worker.ts'), options)
      const app = await worker(script, { collectorUrl: collector.url, waitUntil: true })
      const ids = await trackMany(app.url, 5)
      await waitUntilSettled(app.url, collector)
      for (const id of ids) expect(collector.accepted.get(id)).toBe(1)
      await checkActivityApi(app.url, `edge-${options.conditions}-${options.source === false ? 'dist' : 'source'}`)
    })
  })
})
