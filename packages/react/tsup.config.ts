import { defineConfig } from 'tsup'
import { packageBuild } from '../../tsup.base'

export default defineConfig({
  ...packageBuild,
  esbuildOptions(options) {
    options.jsx = 'automatic'
  },
  // Every export is a hook or a component that runs in the browser: one directive on top of the
  // bundle marks them all as client components for the Next.js App Router (esbuild drops
  // module-level directives it bundles, so it is added here rather than kept from the sources).
  banner: { js: "'use client';" },
})
