/** The decoded JSON body of a request, or the status and reason it was refused with. */
export type BodyResult = { ok: true; value: unknown } | { ok: false; status: 400 | 413 | 415; message: string }

/**
 * JSON, and `text/plain` because `navigator.sendBeacon` with a string sends that type: a JSON
 * content type would need a CORS preflight, which beacons cannot make.
 */
function acceptedType(header: string | null): boolean {
  const type = (header ?? '').split(';')[0]!.trim().toLowerCase()
  return type === 'application/json' || type === 'text/plain' || (type.startsWith('application/') && type.endsWith('+json'))
}

/**
 * Reads a request body as UTF-8 JSON, refusing it as soon as it passes `maxBytes`: by its declared
 * `Content-Length` before reading anything, or while streaming for chunked bodies, so an oversized
 * body is never held in memory.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<BodyResult> {
  if (!acceptedType(request.headers.get('content-type'))) {
    await request.body?.cancel().catch(() => {})
    return { ok: false, status: 415, message: 'Send activities as application/json (or text/plain holding JSON).' }
  }
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  if (declared > maxBytes) {
    await request.body?.cancel().catch(() => {})
    return { ok: false, status: 413, message: `The body is larger than the ${maxBytes}-byte limit.` }
  }
  if (!request.body) return { ok: false, status: 400, message: 'The body is empty.' }
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        await reader.cancel().catch(() => {})
        return { ok: false, status: 413, message: `The body is larger than the ${maxBytes}-byte limit.` }
      }
      chunks.push(value)
    }
  } catch {
    return { ok: false, status: 400, message: 'The body could not be read.' }
  }
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
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
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
