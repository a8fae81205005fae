import type { Options } from 'tsup'

/** What every package builds: ESM + CJS + declarations from src/index.ts, for ES2022 runtimes. */
export const packageBuild: Options = {
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
}
