import { realpathSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe } from 'vitest'
import { buildDir, bundle, fixtures, removeBundles, runtimesRoot } from './bundle'
import { requireRuntime, startServer } from './runtime'
import { serverRuntimeSuite } from './server-runtime-suite'

const deno = requireRuntime('deno')

describe.skipIf(!deno)(`on Deno (${deno?.version})`, () => {
  let script: string
  beforeAll(async () => {
    // postgres.js stays outside the bundle: Deno loads it from node_modules as the npm package it is.
    script = await bundle(join(fixtures, 'deno.ts'), { conditions: 'deno', external: ['postgres'] })
  })
  afterAll(removeBundles)

  serverRuntimeSuite({
    title: 'Deno.serve',
    drivers: ['postgres.js'],
    start: (config, env = {}) =>
      startServer(
        deno!.binary,
        [
          'run',
          // Only what the app needs: loopback, its variables, and the files of this checkout (node_modules).
          '--allow-net=127.0.0.1',
          '--allow-env',
          `--allow-read=${realpathSync(join(runtimesRoot, '..', '..'))}`,
          '--node-modules-dir=manual',
          '--no-prompt',
          script,
        ],
        { cwd: runtimesRoot, env: { ...env, APP_CONFIG: JSON.stringify(config), DENO_NO_UPDATE_CHECK: '1', DENO_DIR: join(buildDir, 'deno') } },
      ),
  })
})
