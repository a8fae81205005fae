import { defineProject } from 'vitest/config'

/**
 * The test projects, one per package. Vitest 4 no longer reads a workspace file by itself:
 * vitest.config.ts imports this list and hands it to `test.projects`.
 */
const sourceCondition = { conditions: ['@usertracking/source'] }

export const projects = [
  defineProject({
    resolve: sourceCondition,
    ssr: { resolve: { conditions: ['@usertracking/source'] } },
    test: { name: 'core', root: './packages/core', environment: 'node' },
  }),
  defineProject({
    resolve: sourceCondition,
    ssr: { resolve: { conditions: ['@usertracking/source'] } },
    test: { name: 'node', root: './packages/node', environment: 'node', testTimeout: 60_000 },
  }),
  defineProject({
    resolve: sourceCondition,
    ssr: { resolve: { conditions: ['@usertracking/source'] } },
    test: { name: 'server', root: './packages/server', environment: 'node' },
  }),
  defineProject({
    resolve: sourceCondition,
    ssr: { resolve: { conditions: ['@usertracking/source'] } },
    // Against the server at DATABASE_URL when set, against PGlite otherwise.
    test: { name: 'postgres', root: './packages/postgres', environment: 'node', testTimeout: 60_000, hookTimeout: 60_000 },
  }),
  defineProject({
    resolve: sourceCondition,
    ssr: { resolve: { conditions: ['@usertracking/source'] } },
    test: { name: 'browser', root: './packages/browser', environment: 'happy-dom', include: ['src/**/*.test.ts'] },
  }),
  defineProject({
    resolve: sourceCondition,
    ssr: { resolve: { conditions: ['@usertracking/source'] } },
    // Real Chromium through playwright-core; run alone with `vitest run --project browser-e2e`.
    test: { name: 'browser-e2e', root: './packages/browser', environment: 'node', include: ['test/e2e/**/*.test.ts'], testTimeout: 60_000, fileParallelism: false },
  }),
  defineProject({
    resolve: sourceCondition,
    ssr: { resolve: { conditions: ['@usertracking/source'] } },
    test: { name: 'demo', root: './examples/demo', environment: 'node', testTimeout: 90_000 },
  }),
]
