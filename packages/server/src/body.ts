import { unref } from '@usertracking/core'

/** The decoded JSON body of a request, or the status and reason it was refused with. */
export type BodyResult = { ok: true; value: unknown } | { ok: false; status: 400 | 408 | 413 | 415; message: string }

/** Limits of reading one request body; see `ActivityHandlerOptions`. */
export interface BodyLimits {
  /** Largest body accepted, in bytes. */
  maxBytes: number
  /** Bytes of a refused body read and thrown away before answering (see {@link discardBody}). */
  maxDrainBytes: number
  /** Time allowed to receive the whole body, in ms; a client that is slower gets 408. */
  timeoutMs: number
}

/**
 * JSON, and `text/plain` because `navigator.sendBeacon` with a string sends that type: a JSON
 * content type would need a CORS preflight, which beacons cannot make.
 */
function acceptedType(header: string | null | undefined): boolean {
  const type = (header ?? '').split(';')[0]!.trim().toLowerCase()
  return type === 'application/json' || type === 'text/plain' || (type.startsWith('application/') && type.endsWith('+json'))
}

/** One decoder for every body: `decode` without `stream` starts afresh each call. */
const utf8 = new TextDecoder('utf-8', { fatal: true })

const TIMED_OUT = Symbol('timed out')

/** A promise that resolves to {@link TIMED_OUT} after `ms`, and the function that stops its timer. */
function deadline(ms: number): { expired: Promise<typeof TIMED_OUT>; stop: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = unref(setTimeout(() => resolve(TIMED_OUT), ms))
  })
  return { expired, stop: () => clearTimeout(timer) }
}

/** How reading a body ended: its chunks, or the point it stopped at. */
export type ReadOutcome = { done: true; chunks: Uint8Array[]; size: number } | { done: false; reason: 'too_large' | 'timeout' | 'error' }

/**
 * Reads the rest of a body, keeping up to `keepBytes` and counting (but dropping) the rest up to
 * `maxBytes`, within the time left on `expired`. Past either bound it cancels the stream.
 */
async function readBody(
  body: ReadableStream<Uint8Array>,
  keepBytes: number,
  maxBytes: number,
  expired: Promise<typeof TIMED_OUT>,
): Promise<ReadOutcome> {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), expired])
      if (next === TIMED_OUT) {
        void reader.cancel().catch(() => {})
        // A body already known to be too large is answered as such, however slowly it came.
        return { done: false, reason: size > keepBytes ? 'too_large' : 'timeout' }
      }
      if (next.done) return { done: true, chunks, size }
      size += next.value.byteLength
      if (size > maxBytes) {
        void reader.cancel().catch(() => {})
        return { done: false, reason: 'too_large' }
      }
      if (size <= keepBytes) chunks.push(next.value)
    }
  } catch {
    return { done: false, reason: 'error' }
  }
}

/**
 * Reads and throws away what is left of a request body, up to `maxDrainBytes` and `timeoutMs`,
 * before a refusal is answered. A server that answers and closes while the client is still
 * sending makes the client's TCP stack see a reset, and the client never reads the answer
 * (RFC 9112 §9.6): a 413 would look like a network error and the same batch would be resent
 * forever. A body past the bound is cancelled, and the connection then closes.
 */
export async function discardBody(request: Request, limits: Pick<BodyLimits, 'maxDrainBytes' | 'timeoutMs'>): Promise<void> {
  if (!request.body || request.bodyUsed) return
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  if (declared > limits.maxDrainBytes) {
    await request.body.cancel().catch(() => {})
    return
  }
  const timer = deadline(limits.timeoutMs)
  try {
    await readBody(request.body, 0, limits.maxDrainBytes, timer.expired)
  } finally {
    timer.stop()
  }
}

/** The refusal of a body past `maxBytes`. */
function tooLarge(maxBytes: number): BodyResult {
  return { ok: false, status: 413, message: `The body is larger than the ${maxBytes}-byte limit.` }
}

/**
 * A refusal decided from the headers, before a byte of the body is read: 415 for a content type
 * other than JSON, 413 for a declared length past `maxBytes`. The caller drains the body (see
 * {@link discardBody}) and answers it.
 */
export function refusedByHeaders(contentType: string | null | undefined, contentLength: string | null | undefined, limits: Pick<BodyLimits, 'maxBytes'>): BodyResult | undefined {
  if (!acceptedType(contentType)) return { ok: false, status: 415, message: 'Send activities as application/json (or text/plain holding JSON).' }
  if (Number(contentLength ?? Number.NaN) > limits.maxBytes) return tooLarge(limits.maxBytes)
  return undefined
}

/**
 * Reads a request body as UTF-8 JSON. A body larger than `maxBytes` is refused with 413 without
 * being held in memory: it is read on and thrown away up to `maxDrainBytes` (so the client can
 * read the 413), by its declared `Content-Length` or while streaming a chunked body. A body not
 * received within `timeoutMs` is refused with 408.
 */
export async function readJsonBody(request: Request, limits: BodyLimits): Promise<BodyResult> {
  const refusal = refusedByHeaders(request.headers.get('content-type'), request.headers.get('content-length'), limits)
  if (refusal) {
    await discardBody(request, limits)
    return refusal
  }
  if (!request.body) return { ok: false, status: 400, message: 'The body is empty.' }
  const timer = deadline(limits.timeoutMs)
  let outcome: ReadOutcome
  try {
    outcome = await readBody(request.body, limits.maxBytes, Math.max(limits.maxBytes, limits.maxDrainBytes), timer.expired)
  } finally {
    timer.stop()
  }
  return outcomeToJson(outcome, limits)
}

/** What a finished read of the body means: its JSON, or why it is refused. */
export function outcomeToJson(outcome: ReadOutcome, limits: BodyLimits): BodyResult {
  if (!outcome.done) {
    if (outcome.reason === 'timeout') return { ok: false, status: 408, message: `The body did not arrive within ${limits.timeoutMs} ms.` }
    if (outcome.reason === 'too_large') return tooLarge(limits.maxBytes)
    return { ok: false, status: 400, message: 'The body could not be read.' }
  }
  if (outcome.size > limits.maxBytes) return tooLarge(limits.maxBytes)
  return decodeJson(outcome.chunks, outcome.size)
}

/** A body's bytes as UTF-8 JSON: the value, or 400 saying what is wrong with it. */
function decodeJson(chunks: readonly Uint8Array[], size: number): BodyResult {
  let bytes: Uint8Array
  if (chunks.length === 1) bytes = chunks[0]!
  else {
    bytes = new Uint8Array(size)
    let offset = 0
    for (const chunk of chunks) {
      bytes.set(chunk, offset)
      offset += chunk.byteLength
    }
  }
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return { ok: false, status: 400, message: 'The body is not valid UTF-8.' }
  }
  if (text.trim().length === 0) return { ok: false, status: 400, message: 'The body is empty.' }
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch (error) {
    // Very deep nesting overflows the parser's stack: that too is the client's malformed input.
    const reason = error instanceof SyntaxError ? error.message : 'it is nested too deeply'
    return { ok: false, status: 400, message: `The body is not valid JSON: ${reason}` }
  }
}
