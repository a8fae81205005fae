import { defineConfig } from 'vitest/config'
import { projects } from './vitest.workspace'

export default defineConfig({
  test: {
    // Each project's time limits are set in vitest.workspace.ts: projects do not inherit them from here.
    projects,
  },
})
