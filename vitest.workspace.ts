import { defineProject, type TestProjectInlineConfiguration } from 'vitest/config'

/**
 * The test projects, one per package. Vitest 4 no longer reads a workspace file by itself:
 * vitest.config.ts imports this list and hands it to `test.projects`.
 */
function project(test: NonNullable<TestProjectInlineConfiguration['test']>) {
  // Tests run from source: each package exports `src` under the `@usertracking/source` condition.
  const conditions = ['@usertracking/source']
  // Projects do not inherit the root config's test options, so the generous ceilings live here: real
  // databases and child processes sit behind some suites, and a slow shared machine must not fail a
  // test that is merely waiting on I/O. A project may raise them.
  return defineProject({
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: { environment: 'node', testTimeout: 30_000, hookTimeout: 60_000, ...test },
  })
}

export const projects = [
  project({ name: 'core', root: './packages/core' }),
  project({ name: 'node', root: './packages/node', testTimeout: 60_000 }),
  project({ name: 'server', root: './packages/server' }),
  // withActivity and pricing against the real openai, @anthropic-ai/sdk and ai clients on a loopback fake provider.
  project({ name: 'pricing', root: './packages/pricing', testTimeout: 30_000 }),
  // Against the server at DATABASE_URL when set, against PGlite otherwise.
  project({ name: 'postgres', root: './packages/postgres', testTimeout: 60_000, hookTimeout: 60_000 }),
  // The shared Redis at 127.0.0.1:6379, a 3-node Redis Cluster and redis-servers the tests start themselves, and the real PostgreSQL server.
  project({ name: 'redis', root: './packages/redis', testTimeout: 120_000, hookTimeout: 120_000, globalSetup: ['./test/global-setup.ts'], fileParallelism: false }),
  project({ name: 'browser', root: './packages/browser', environment: 'happy-dom', include: ['src/**/*.test.ts'] }),
  // Real Chromium through playwright-core; run alone with `vitest run --project browser-e2e`.
  project({ name: 'browser-e2e', root: './packages/browser', include: ['test/e2e/**/*.test.ts'], testTimeout: 60_000, fileParallelism: false }),
  // Against the real server handler over the memory store and the Postgres store on PGlite.
  project({ name: 'client', root: './packages/client', hookTimeout: 60_000 }),
  project({ name: 'react', root: './packages/react', environment: 'happy-dom', testTimeout: 30_000, hookTimeout: 60_000 }),
  // The demo's server in-process and `pnpm start` as a child process, each on its own temporary data folder.
  project({ name: 'demo', root: './examples/demo', include: ['src/*.test.ts'], testTimeout: 120_000, hookTimeout: 180_000 }),
  // The product tour in real Chromium (playwright-core); run alone with `vitest run --project demo-e2e`.
  project({ name: 'demo-e2e', root: './examples/demo', include: ['src/e2e/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 180_000, fileParallelism: false }),
  // Story 2's event log, on the PostgreSQL server at DATABASE_URL when set, on PGlite otherwise.
  project({ name: 'event-log', root: './examples/event-log', testTimeout: 90_000, hookTimeout: 90_000 }),
  // Story 5's gateway into its own activity table, on the PostgreSQL server at DATABASE_URL when set, on PGlite otherwise.
  project({ name: 'llm-gateway', root: './examples/llm-gateway', testTimeout: 90_000, hookTimeout: 90_000 }),
  // Story 4's site in real Chromium, serving the browser package's built script (its globalSetup builds it when missing).
  project({
    name: 'flask-style-site',
    root: './examples/flask-style-site',
    globalSetup: ['./test/browser-script.ts'],
    testTimeout: 90_000,
    hookTimeout: 90_000,
    fileParallelism: false,
  }),
  // Google's Firestore emulator (a Java jar), started once for the project by its globalSetup.
  project({ name: 'firestore', root: './packages/firestore', globalSetup: ['./test/emulator-setup.ts'], testTimeout: 60_000, hookTimeout: 120_000 }),
  // workerd (through miniflare), Deno and Bun from their npm packages, each a child process on 127.0.0.1.
  project({ name: 'runtimes', root: './test/runtimes', testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false }),
  // The example Worker, bundled as wrangler does and run on workerd through miniflare.
  project({ name: 'cloudflare-worker', root: './examples/cloudflare-worker', testTimeout: 120_000, hookTimeout: 120_000 }),
  project({ name: 'firestore-activity', root: './examples/firestore-activity', globalSetup: ['../../packages/firestore/test/emulator-setup.ts'], testTimeout: 60_000, hookTimeout: 120_000 }),
  // The benchmark harness's own parts (the collector against each real peer SDK), not the benchmarks.
  project({ name: 'bench', root: './bench', testTimeout: 60_000 }),
]
