/** A JSON answer of the demo's own routes. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers } })
}

/** The request's JSON body, or an error answer: 415 when it is not JSON, 413 past `maxBytes`, 400 when it does not parse. */
export async function readJson(request: Request, maxBytes = 64 * 1024): Promise<{ body: unknown } | { error: Response }> {
  // Requiring JSON also keeps other sites' plain form posts out: they cannot send this content type without a CORS preflight.
  if (!request.headers.get('content-type')?.startsWith('application/json')) {
    return { error: json(415, { error: 'Send the body as application/json.' }) }
  }
  const reader = request.body?.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  if (reader) {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      size += chunk.value.byteLength
      if (size > maxBytes) {
        await reader.cancel().catch(() => {})
        return { error: json(413, { error: `The body is larger than ${maxBytes} bytes.` }) }
      }
      chunks.push(chunk.value)
    }
  }
  try {
    return { body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }
  } catch {
    return { error: json(400, { error: 'The body is not valid JSON.' }) }
  }
}
