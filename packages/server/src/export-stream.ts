import type { Activity, ExportQuery, Store } from '@usertracking/core'
import type { Access } from './auth'
import { csvHeader, csvRow } from './csv'
import { queryError } from './errors'
import { parseExportQuery, type ExportFormat, type QueryOptions } from './query'
import type { StoreCaller } from './store-call'

/** What the export route needs from its handler. */
export interface ExportDependencies {
  store: Store
  access: Access
  storeCaller: StoreCaller
  query: QueryOptions
  onError: (error: unknown) => void
}

const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8; header=present',
  json: 'application/json; charset=utf-8',
  ndjson: 'application/x-ndjson',
}

/** Rows go out in chunks of about 64 KB: one enqueue per row would cost more than the row. */
const CHUNK_CHARACTERS = 65_536

/**
 * The export route: the principal's matching activities (see {@link streamExport}).
 */
export function createExportRoute(deps: ExportDependencies): (request: Request, url: URL) => Promise<Response> {
  return async (request, url) => {
    const principal = await deps.access.reader(request)
    const parsed = parseExportQuery(url.searchParams, deps.query)
    if (!parsed.ok) throw queryError(parsed.issues)
    return streamExport(deps, deps.access.scope(parsed.query.export, principal), parsed.query.format, 'activities')
  }
}

/**
 * Every activity `query` matches as CSV, a JSON array or NDJSON, streamed page by page as the
 * client reads (memory stays bounded by a store page and one chunk). Each page the store fetches is
 * under the store time limit; a store that fails or stalls midway cuts the response off, so the
 * client sees a truncated download rather than a complete-looking one.
 *
 * @param query - what to export, already narrowed to what the principal may read.
 * @param filename - the download's name, without the extension.
 */
export async function streamExport(
  deps: Pick<ExportDependencies, 'store' | 'storeCaller' | 'onError'>,
  query: ExportQuery,
  format: ExportFormat,
  filename: string,
): Promise<Response> {
  const { store, storeCaller } = deps
  const iterator = store.export(query)[Symbol.asyncIterator]()
  const stop = () => {
    // The iterator may be stuck in a stalled call; its own failure to stop is only logged.
    void Promise.resolve()
      .then(() => iterator.return?.())
      .catch(deps.onError)
  }
  const row = format === 'csv' ? csvRow : format === 'ndjson' ? (activity: Activity) => `${JSON.stringify(activity)}\n` : undefined
  let count = 0
  /** The next chunk of text, and whether it is the last; one time limit per chunk, not per row. */
  const readChunk = (first: boolean) =>
    storeCaller.run(async (signal) => {
      let text = first ? (format === 'csv' ? csvHeader() : format === 'json' ? '[' : '') : ''
      while (text.length < CHUNK_CHARACTERS && !signal.aborted) {
        const result = await iterator.next()
        if (result.done) {
          if (format === 'json') text += count === 0 ? ']\n' : '\n]\n'
          return { text, done: true }
        }
        text += row ? row(result.value) : `${count === 0 ? '\n' : ',\n'}${JSON.stringify(result.value)}`
        count++
      }
      return { text, done: false }
    })
  let pending: { text: string; done: boolean } | undefined
  try {
    // Reading the first chunk before answering turns an unreachable store into a 503, not a cut-off 200.
    pending = await readChunk(true)
  } catch (error) {
    stop()
    throw error
  }
  const encoder = new TextEncoder()
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk = pending
      pending = undefined
      if (!chunk) {
        try {
          chunk = await readChunk(false)
        } catch (error) {
          stop()
          controller.error(error)
          return
        }
      }
      if (chunk.text) controller.enqueue(encoder.encode(chunk.text))
      if (chunk.done) controller.close()
    },
    cancel() {
      stop()
    },
  })
  return new Response(body, {
    headers: {
      'content-type': CONTENT_TYPES[format],
      'content-disposition': `attachment; filename="${filename}.${format}"`,
      'cache-control': 'no-store',
    },
  })
}
