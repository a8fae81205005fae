/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, in a couple of hundred bytes
 * for the lite build. Core's `uuidv7` also keeps ids made in one millisecond in order and draws
 * from a random pool for speed on servers; these sort by millisecond only, which a page can afford.
 *
 * @param nowMs - the timestamp to embed, in Unix milliseconds. @default Date.now()
 */
export function liteId(nowMs = Date.now()): string {
  const time = nowMs.toString(16).padStart(12, '0')
  const random = crypto.getRandomValues(new Uint8Array(32))
  let index = 0
  // `7` is the version; `y` takes the RFC 9562 variant bits, 0b10.
  return 'xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (char) =>
    index < 12 ? time[index++]! : (char > 'x' ? 8 | (random[index++]! & 3) : random[index++]! & 15).toString(16),
  )
}
