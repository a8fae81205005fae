let lastMs = -1
let sequence = 0

const hex = (value: number, digits: number) => value.toString(16).padStart(digits, '0')

/**
 * A UUIDv7 (RFC 9562) in a couple of hundred bytes, for the lean tracker a bundle ships. The same
 * ids as `uuidv7` (uuid.ts): 48 bits of Unix milliseconds, a 12-bit counter in `rand_a` that keeps
 * ids made in one millisecond (or after the clock stepped back) in order (§6.2, method 1), then 62
 * random bits. `uuidv7` draws from a random pool through lookup tables, which a server's hot path
 * needs and a page's few activities do not.
 *
 * @param nowMs - the timestamp to embed, in Unix milliseconds. @default Date.now()
 */
export function smallUuidv7(nowMs = Date.now()): string {
  const random = new Uint8Array(9)
  try {
    crypto.getRandomValues(random)
  } catch {
    // No Web Crypto (an old runtime): ids stay unique enough for idempotency, not unguessable.
    for (let index = 0; index < 9; index++) random[index] = Math.random() * 256
  }
  if (nowMs > lastMs) {
    lastMs = nowMs
    // A random start below 256 leaves room for 3,840 more ids in the same millisecond.
    sequence = random[8]!
  } else if (++sequence > 0xfff) {
    lastMs++
    sequence = 0
  }
  const time = hex(lastMs, 12)
  const tail = [...random.subarray(0, 8)].map((byte) => hex(byte, 2)).join('')
  // `7` is the version; the fourth group starts with the variant bits, 0b10.
  return `${time.slice(0, 8)}-${time.slice(8)}-7${hex(sequence, 3)}-${hex(8 | (random[0]! & 3), 1)}${tail.slice(1, 4)}-${tail.slice(4)}`
}
