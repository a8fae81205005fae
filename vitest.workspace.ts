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
    test: { name: 'node', root: './packages/node', environment: 'node' },
  }),
  defineProject({
    resolve: sourceCondition,
    ssr: { resolve: { conditions: ['@usertracking/source'] } },
    test: { name: 'server', root: './packages/server', environment: 'node' },
  }),
]
