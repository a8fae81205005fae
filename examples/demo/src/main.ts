/**
 * `pnpm start`: the product tour on 127.0.0.1. See examples/demo/README.md.
 *
 *   --port <n>    port (or PORT); 0 takes any free one. Default 3000.
 *   --data <dir>  the data folder kept between runs (or DEMO_DATA_DIR). Default examples/demo/.data.
 *   --reset       empty the data folder first: a fresh, newly seeded database.
 *   --rebuild     build the app even if the last build is current.
 *   --build-only  build the app and exit.
 */
import { relative } from 'node:path'
import { parseArgs } from 'node:util'
import { ensureAppBuilt } from './server/app-build'
import { DEFAULT_DATA_DIR, startDemo } from './server/demo-server'

const started = performance.now()
const { values } = parseArgs({
  options: {
    port: { type: 'string', short: 'p' },
    data: { type: 'string' },
    reset: { type: 'boolean', default: false },
    rebuild: { type: 'boolean', default: false },
    'build-only': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
})

if (values.help) {
  console.log('Usage: pnpm start [--port 3000] [--data examples/demo/.data] [--reset] [--rebuild] [--build-only]')
  process.exit(0)
}

if (values['build-only']) {
  const build = await ensureAppBuilt({ force: values.rebuild })
  console.log(build.built ? `Built the app into ${relative(process.cwd(), build.dir)} in ${(build.durationMs / 1000).toFixed(1)} s.` : 'The app build is current.')
  process.exit(0)
}

const portText = values.port ?? process.env.PORT ?? '3000'
const port = Number(portText)
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`[demo] --port (or PORT) must be a port number from 0 to 65535; got ${JSON.stringify(portText)}.`)
  process.exit(1)
}

let demo: Awaited<ReturnType<typeof startDemo>>
try {
  demo = await startDemo({ port, dataDir: values.data ?? process.env.DEMO_DATA_DIR ?? DEFAULT_DATA_DIR, reset: values.reset, rebuild: values.rebuild })
} catch (error) {
  console.error(error instanceof Error && error.message.startsWith('[demo]') ? error.message : error)
  process.exit(1)
}

const { url } = demo
const shown = (dir: string) => (relative(process.cwd(), dir).startsWith('..') ? dir : relative(process.cwd(), dir) || '.')
console.log(`
usertracking demo — ready at ${url} in ${((performance.now() - started) / 1000).toFixed(1)} s

  Product page      ${url}/
  My Activities     ${url}/activities
  Admin dashboard   ${url}/admin
  API               ${url}/api/activities  (needs the sign-in cookie: open the pages first)
  Data              ${shown(demo.dataDir)}  (${demo.total} activities; --reset starts over)

What to try:
  1. Press "Tailor my resume": the real openai client streams from a fake model on 127.0.0.1,
     and withActivity records the call with its duration, tokens, model and cost.
  2. Keep My Activities open in another tab while you do: the new row arrives live.
  3. Sort by tokens, filter by type and dates, open a row's details, export CSV or JSON.
  4. Switch user at the top right: each person sees only their own rows (the server decides).
  5. Switch to Sam (admin) and open the admin dashboard: totals, visitors, tokens and cost per
     day, a live "activities today" counter, recent activity of every user.

Ctrl-C stops it: pending activities are flushed and the database is closed.
`)

let stopping = false
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    // A second Ctrl-C: the user wants out now.
    process.exit(130)
  }
  stopping = true
  console.log(`\n${signal}: stopping…`)
  await demo.close()
  console.log('Stopped: activities flushed, database closed.')
  process.exit(0)
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stop(signal).catch((error: unknown) => {
      console.error('[demo] Could not stop cleanly:', error)
      process.exit(1)
    })
  })
}
