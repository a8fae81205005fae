import { build } from 'esbuild'
import { gzipSync } from 'node:zlib'
const app = (from) => `import { UserTracking } from '${from}'
UserTracking.config({ endpoint: '/api/activity' })
UserTracking.track('custom_action', 'element-id', { custom_data: 'value' })`
for (const [name, from] of [['full', './src/index.ts'], ['lite', './src/lite.ts']]) {
  const r = await build({ stdin: { contents: app(from), resolveDir: process.cwd(), sourcefile: 'entry.ts', loader: 'ts' }, bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022', conditions: ['@usertracking/source'], write: false, logLevel: 'silent', metafile: true })
  const code = r.outputFiles[0].contents
  console.log(name, code.byteLength, gzipSync(code, { level: 9 }).byteLength)
  if (process.argv[2] === 'v' && name === 'full') for (const [p, i] of Object.entries(Object.values(r.metafile.outputs)[0].inputs).sort((a,b)=>b[1].bytesInOutput-a[1].bytesInOutput)) console.log('  ', p.replace(/^.*\/(core|browser)\//,'$1/'), i.bytesInOutput)
}
