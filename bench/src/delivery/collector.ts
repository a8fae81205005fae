/**
 * The collector every SDK of the delivery suite sends to: one node:http server on 127.0.0.1 that
 * accepts each SDK's real wire format, parses every request and counts the distinct events it
 * received by the index each event carries (`i` in its properties / metadata / attributes).
 *
 * | SDK | request | events at | index at |
 * | --- | --- | --- | --- |
 * | usertracking (`httpSink`, `nodeHttpSink`) | `POST /api/activity` | `activities[]` | `metadata.i` |
 * | OpenTelemetry OTLP/HTTP JSON | `POST /v1/logs` | `resourceLogs[].scopeLogs[].logRecords[]` | attribute `i` |
 * | Amplitude HTTP API v2 | `POST /2/httpapi` | `events[]` | `event_properties.i` |
 * | PostHog | `POST /batch/` (gzip by default) | `batch[]` | `properties.i` |
 * | Segment | `POST /v1/batch` | `batch[]` | `properties.i` |
 *
 * During an outage it reads each request in full and answers 503 without a `Retry-After`, so
 * every SDK falls back on its own retry policy. A body it cannot parse gets a 400 and is counted
 * as `malformed`, so a harness bug cannot pass as a lost event.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import { epochMs } from './protocol'

const gunzipAsync = promisify(gunzip)

/** Largest request body accepted, in bytes: far above any SDK's batch, a guard against a runaway client. */
const MAX_BODY_BYTES = 64 * 2 ** 20

/** What the collector has seen since it started. */
export interface CollectorCounts {
  /** Distinct event indices below `capacity` received in an answered-200 request. */
  delivered: number
  /** Events whose index had already been received (at-least-once redelivery). */
  duplicates: number
  /** Requests answered 200. */
  requests: number
  /** Requests answered 503 during an outage. */
  refused: number
  /** Requests whose body could not be parsed. */
  malformed: number
  /** Epoch milliseconds (sub-millisecond precision) when the last new event arrived; 0 before any. */
  lastDeliveryAt: number
}

/** A running collector; see the module comment. */
export interface Collector {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly origin: string
  /** While `true`, every request is answered 503. */
  outage: boolean
  counts(): CollectorCounts
  close(): Promise<void>
}

interface OtlpValue {
  intValue?: number | string
  doubleValue?: number
}
interface OtlpBody {
  resourceLogs?: { scopeLogs?: { logRecords?: { attributes?: { key: string; value?: OtlpValue }[] }[] }[] }[]
}
type Holder = { i?: unknown } | undefined
interface AnyBody extends OtlpBody {
  activities?: { metadata?: Holder }[]
  batch?: { properties?: Holder }[]
  events?: { event_properties?: Holder }[]
}

/** The index of every event in one parsed request body, whichever SDK sent it. */
function eventIndices(body: AnyBody): number[] {
  const indices: unknown[] = []
  if (Array.isArray(body.activities)) for (const activity of body.activities) indices.push(activity?.metadata?.i)
  if (Array.isArray(body.batch)) for (const event of body.batch) indices.push(event?.properties?.i)
  if (Array.isArray(body.events)) for (const event of body.events) indices.push(event?.event_properties?.i)
  for (const resource of body.resourceLogs ?? []) {
    for (const scope of resource.scopeLogs ?? []) {
      for (const record of scope.logRecords ?? []) {
        const value = record.attributes?.find((attribute) => attribute.key === 'i')?.value
        // OTLP/JSON may encode a 64-bit intValue as a string.
        indices.push(value?.intValue === undefined ? value?.doubleValue : Number(value.intValue))
      }
    }
  }
  return indices.filter((index): index is number => Number.isInteger(index) && (index as number) >= 0)
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw new RangeError('body too large')
    chunks.push(chunk)
  }
  const body = Buffer.concat(chunks)
  return request.headers['content-encoding'] === 'gzip' ? gunzipAsync(body) : body
}

/** The success answer each wire format expects: Amplitude reads its status from the body's `code`. */
function answerOk(response: ServerResponse, url: string, received: number, bytes: number): void {
  const body = url.startsWith('/2/httpapi')
    ? JSON.stringify({ code: 200, events_ingested: received, payload_size_bytes: bytes, server_upload_time: Date.now() })
    : '{}'
  response.writeHead(200, { 'content-type': 'application/json' }).end(body)
}

/**
 * Starts a collector on 127.0.0.1 (an ephemeral port) that counts event indices below `capacity`.
 *
 * @param capacity - one more than the largest index counted; larger indices are ignored.
 */
export async function startCollector(capacity: number): Promise<Collector> {
  const seen = new Uint8Array(capacity)
  const counts: CollectorCounts = { delivered: 0, duplicates: 0, requests: 0, refused: 0, malformed: 0, lastDeliveryAt: 0 }
  const sockets = new Set<Socket>()
  const collector = {
    origin: '',
    outage: false,
    counts: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      }),
  }

  const server = createServer((request, response) => {
    readBody(request).then(
      (body) => {
        if (collector.outage) {
          counts.refused++
          response.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"outage"}')
          return
        }
        let indices: number[]
        try {
          indices = eventIndices(JSON.parse(body.toString('utf8')) as AnyBody)
        } catch {
          counts.malformed++
          response.writeHead(400).end()
          return
        }
        counts.requests++
        let fresh = 0
        for (const index of indices) {
          if (index >= capacity) continue
          if (seen[index] === 1) counts.duplicates++
          else {
            seen[index] = 1
            fresh++
          }
        }
        if (fresh > 0) {
          counts.delivered += fresh
          counts.lastDeliveryAt = epochMs()
        }
        answerOk(response, request.url ?? '/', indices.length, body.length)
      },
      () => {
        counts.malformed++
        if (!response.headersSent) response.writeHead(400).end()
      },
    )
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  // The SDKs under test must never meet a failure the collector made up: no idle cut-offs mid-run.
  server.keepAliveTimeout = 60_000
  server.requestTimeout = 0
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  collector.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return collector
}
