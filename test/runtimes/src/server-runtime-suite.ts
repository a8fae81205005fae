/**
 * The suite Deno and Bun both pass: the app (fixtures/app.ts) under the runtime's own HTTP server,
 * as a child process on 127.0.0.1. Unlike Workers, such a process lives on after a response, so
 * the tracker delivers in the background without `waitUntil`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkActivityApi, checkAnsweredBeforeDelivery, checkOutageRecovered } from './checks'
import { startCollector, type Collector } from './collector'
import { createSchema, databaseAvailable, databaseUrl } from './database'
import type { AppConfig } from './fixtures/app'
import type { RuntimeServer } from './runtime'

/** Starts the app on the runtime with this config and extra environment. */
export type StartApp = (config: AppConfig, env?: Record<string, string>) => Promise<RuntimeServer>

/** Options of {@link serverRuntimeSuite}. */
export interface ServerRuntimeSuite {
  /** The runtime, as the test titles name it. */
  title: string
  start: StartApp
  /** The PostgreSQL drivers its entry can use, each a value of its `DRIVER` variable. */
  drivers: string[]
}

/**
 * Declares the tests of one runtime that serves HTTP itself (Deno, Bun).
 *
 * @param suite - see {@link ServerRuntimeSuite}.
 */
export function serverRuntimeSuite(suite: ServerRuntimeSuite): void {
  let collector: Collector
  const running: RuntimeServer[] = []
  const start: StartApp = async (config, env) => {
    const server = await suite.start(config, env)
    running.push(server)
    return server
  }

  beforeEach(async () => {
    collector = await startCollector()
  })
  afterEach(async () => {
    await Promise.all(running.splice(0).map((server) => server.stop()))
    await collector.close()
  })

  describe(`the core tracker with httpSink under ${suite.title}`, () => {
    it('answers 200 requests at once, before any delivery, and delivers every activity once', async () => {
      const app = await start({ collectorUrl: collector.url })
      await checkAnsweredBeforeDelivery(app.url, collector, async () => {
        // flush() over HTTP: the batch timers would send it too, a debounce later.
        const flushed = await fetch(`${app.url}/tracker/flush?timeoutMs=30000`, { method: 'POST' })
        expect(await flushed.json()).toEqual({ delivered: true, timedOut: false, dropped: {} })
      })
    })

    it('retries through a sink outage and then delivers every activity once', async () => {
      const app = await start({ collectorUrl: collector.url, tracker: { retryBaseDelayMs: 100, retryMaxDelayMs: 500, debounceTime: 50 } })
      await checkOutageRecovered(app.url, collector)
    })
  })

  describe(`the activity API (createActivityHandler) under ${suite.title}`, () => {
    it('over the memory store', async () => {
      const app = await start({})
      await checkActivityApi(app.url, `${suite.title}-memory`)
    })

    it.skipIf(!databaseAvailable).each(suite.drivers)('over PostgreSQL through %s, against the real server', async (driver) => {
      const schema = await createSchema()
      try {
        const app = await start({ store: 'postgres' }, { DATABASE_URL: databaseUrl, SCHEMA: schema.name, DRIVER: driver })
        await checkActivityApi(app.url, `${suite.title}-${driver}`)
        expect(await schema.rows()).toHaveLength(30)
      } finally {
        await schema.drop()
      }
    })
  })
}
