import { defineConfig } from 'vitest/config'
import { projects } from './vitest.workspace'

export default defineConfig({
  test: {
    projects,
    // Real databases and child processes live behind some suites; a generous ceiling keeps a slow
    // shared machine from failing tests that are merely waiting on I/O.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
