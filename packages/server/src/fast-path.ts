import type { BodyLimits } from './body'
import type { Cors } from './cors'
import type { JsonAnswer } from './errors'
import type { IngestRequest } from './ingest'
import type { HandlerMetrics } from './metrics'

/**
 * Where an activity handler keeps its {@link NodeFastPath}, for `toNodeListener`. `Symbol.for`, so
 * a listener from another copy of this package (its CJS build beside the ESM one) finds it too.
 */
export const NODE_FAST_PATH = Symbol.for('usertracking.server.nodeFastPath')

/**
 * What an activity handler lends `toNodeListener` to serve its ingest routes straight from
 * node:http: the same route, limits, CORS and metrics as its web path, without the web `Request`
 * and `Response` objects that cost more than the rest of a small request.
 */
export interface NodeFastPath {
  /** The ingest route answering `POST` at exactly this path, with its success status. */
  ingestAt(path: string): { path: string; status: 200 | 201 } | undefined
  /** The ingest route itself. */
  ingest(input: IngestRequest, status: 200 | 201): Promise<JsonAnswer>
  body: BodyLimits
  cors: Cors | undefined
  metrics: HandlerMetrics
  onError: (error: unknown) => void
}
