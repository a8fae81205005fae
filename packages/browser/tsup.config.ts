import { defineConfig } from 'tsup'
import { packageBuild } from '../../tsup.base'

// The script-tag builds: one self-contained file each that defines window.UserTracking.
const scriptBuild = {
  format: ['iife' as const],
  minify: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'browser' as const,
  noExternal: [/.*/],
}

export default defineConfig([
  { ...packageBuild, entry: ['src/index.ts', 'src/lite.ts'] },
  { ...scriptBuild, entry: { usertracking: 'src/script.ts' } },
  // Its own build, so that it never shares a chunk with the full one.
  { ...scriptBuild, entry: { 'usertracking-lite': 'src/lite-script.ts' } },
])
