import { build } from 'esbuild'
const from = process.argv[2] ?? './src/index.ts'
const r = await build({ stdin: { contents: `import { UserTracking } from '${from}'
UserTracking.config({ endpoint: '/api/activity' })
UserTracking.track('custom_action', 'element-id', { custom_data: 'value' })`, resolveDir: process.cwd(), sourcefile: 'entry.ts', loader: 'ts' }, bundle: true, minify: false, minifySyntax: true, format: 'esm', platform: 'browser', target: 'es2022', conditions: process.argv[3] ? [process.argv[3]] : [], write: false, logLevel: 'silent' })
process.stdout.write(r.outputFiles[0].text)
