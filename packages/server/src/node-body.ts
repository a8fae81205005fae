import type { IncomingMessage } from 'node:http'
import { unref } from '@usertracking/core'
import { outcomeToJson, refusedByHeaders, type BodyLimits, type BodyResult, type ReadOutcome } from './body'

/**
 * A request header as a web `Headers` object would give it: every line of that name, joined with
 * `, `. (node:http keeps only the first `Content-Type` or `User-Agent` line, so reading
 * `incoming.headers` could answer a request differently from the web path.)
 */
export function rawHeader(incoming: IncomingMessage, name: string): string | null {
  const raw = incoming.rawHeaders
  let value: string | null = null
  for (let index = 0; index < raw.length; index += 2) {
    const key = raw[index]!
    if (key.length !== name.length || key.toLowerCase() !== name) continue
    value = value === null ? raw[index + 1]! : `${value}, ${raw[index + 1]!}`
  }
  return value
}

/**
 * Reads what is left of a node:http request body, keeping up to `keepBytes` and counting (but
 * dropping) the rest up to `maxBytes`, within `timeoutMs`; past either bound it stops reading (once
 * the answer is out, toNodeListener reads on and drops a bounded amount more). The same outcomes,
 * for the same bytes, as the web path's reader.
 */
function readIncoming(incoming: IncomingMessage, keepBytes: number, maxBytes: number, timeoutMs: number): Promise<ReadOutcome> {
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = []
    let size = 0
    const finish = (outcome: ReadOutcome) => {
      clearTimeout(timer)
      incoming.off('data', onData)
      incoming.off('end', onEnd)
      incoming.off('error', onFailure)
      incoming.off('close', onClose)
      // Nothing here reads the rest; once the answer is out, toNodeListener reads and drops it (lingerOnBody).
      if (!outcome.done) incoming.pause()
      resolve(outcome)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength
      if (size > maxBytes) finish({ done: false, reason: 'too_large' })
      else if (size <= keepBytes) chunks.push(chunk)
    }
    const onEnd = () => finish({ done: true, chunks, size })
    const onFailure = () => finish({ done: false, reason: 'error' })
    // The client went away before the body was complete.
    const onClose = () => {
      if (!incoming.complete) onFailure()
    }
    // A body already known to be too large is answered as such, however slowly it came.
    const timer = unref(setTimeout(() => finish({ done: false, reason: size > keepBytes ? 'too_large' : 'timeout' }), timeoutMs))
    incoming.on('data', onData)
    incoming.on('end', onEnd)
    incoming.on('error', onFailure)
    incoming.on('close', onClose)
  })
}

/**
 * The body of a node:http request, read once: as JSON for the ingest route, or thrown away before
 * a refusal is answered. What an Express body parser already read (`incoming.body`) is taken as
 * the body, as the web path does.
 */
export class NodeRequestBody {
  private used = false

  constructor(private readonly incoming: IncomingMessage & { body?: unknown }) {}

  /** The bytes a body parser left, when one has read the stream already. */
  private parsed(): Uint8Array | undefined {
    const { body } = this.incoming
    if (body === undefined || !this.incoming.readableEnded) return undefined
    if (body instanceof Uint8Array) return body
    return new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body))
  }

  /** Reads the body as JSON, by the rules of the web path's `readJsonBody`. */
  async json(limits: BodyLimits): Promise<BodyResult> {
    const refusal = refusedByHeaders(rawHeader(this.incoming, 'content-type'), rawHeader(this.incoming, 'content-length'), limits)
    if (refusal) {
      await this.discard(limits)
      return refusal
    }
    this.used = true
    const parsed = this.parsed()
    const outcome: ReadOutcome = parsed
      ? parsed.byteLength > Math.max(limits.maxBytes, limits.maxDrainBytes)
        ? { done: false, reason: 'too_large' }
        : { done: true, chunks: parsed.byteLength <= limits.maxBytes ? [parsed] : [], size: parsed.byteLength }
      : await readIncoming(this.incoming, limits.maxBytes, Math.max(limits.maxBytes, limits.maxDrainBytes), limits.timeoutMs)
    return outcomeToJson(outcome, limits)
  }

  /**
   * Reads and throws away what is left of the body, up to `maxDrainBytes` and `timeoutMs`, before
   * a refusal is answered (see the web path's `discardBody` for why).
   */
  async discard(limits: Pick<BodyLimits, 'maxDrainBytes' | 'timeoutMs'>): Promise<void> {
    if (this.used || this.incoming.readableEnded) return
    this.used = true
    if (Number(rawHeader(this.incoming, 'content-length') ?? Number.NaN) > limits.maxDrainBytes) {
      this.incoming.pause()
      return
    }
    await readIncoming(this.incoming, 0, limits.maxDrainBytes, limits.timeoutMs)
  }
}
