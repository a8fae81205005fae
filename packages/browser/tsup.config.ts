import { defineConfig } from 'tsup'
import { packageBuild } from '../../tsup.base'

export default defineConfig([
  packageBuild,
  {
    // The script-tag build: one self-contained file that defines window.UserTracking.
    entry: { usertracking: 'src/script.ts' },
    format: ['iife'],
    minify: true,
    sourcemap: true,
    target: 'es2022',
    platform: 'browser',
    noExternal: [/.*/],
  },
])
