import type { TailorEvent, TailorInput } from '../server/tailor'

/**
 * Calls `POST /demo/tailor` and hands each NDJSON line to `onEvent` as it arrives: the words of
 * the answer, then the tokens and cost. Rejects when the server refuses (with its message).
 */
export async function streamTailoring(input: TailorInput, onEvent: (event: TailorEvent) => void, signal?: AbortSignal): Promise<void> {
  const response = await fetch('/demo/tailor', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input), signal })
  if (!response.ok || !response.body) {
    const body = (await response.json().catch(() => ({}))) as { error?: string }
    throw new Error(body.error ?? `The server answered ${response.status}.`)
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let pending = ''
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    pending += read.value
    const lines = pending.split('\n')
    pending = lines.pop()!
    for (const line of lines) if (line.trim()) onEvent(JSON.parse(line) as TailorEvent)
  }
  if (pending.trim()) onEvent(JSON.parse(pending) as TailorEvent)
}
