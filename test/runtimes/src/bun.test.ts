import { join } from 'node:path'
import { afterAll, beforeAll, describe } from 'vitest'
import { bundle, fixtures, removeBundles, runtimesRoot } from './bundle'
import { requireRuntime, startServer } from './runtime'
import { serverRuntimeSuite } from './server-runtime-suite'

const bun = requireRuntime('bun')

describe.skipIf(!bun)(`on Bun (${bun?.version})`, () => {
  let script: string
  beforeAll(async () => {
    // The drivers stay outside the bundle: Bun loads them from node_modules.
    script = await bundle(join(fixtures, 'bun.ts'), { conditions: 'bun', external: ['pg', 'postgres'] })
  })
  afterAll(removeBundles)

  serverRuntimeSuite({
    title: 'Bun.serve',
    drivers: ['pg', 'postgres.js'],
    start: (config, env = {}) => startServer(bun!.binary, ['run', script], { cwd: runtimesRoot, env: { ...env, APP_CONFIG: JSON.stringify(config) } }),
  })
})
