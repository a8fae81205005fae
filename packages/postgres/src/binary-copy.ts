// The binary COPY format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]
// PostgreSQL counts timestamps in microseconds from 2000-01-01T00:00:00Z.
const POSTGRES_EPOCH_MS = 946_684_800_000
const TWO_TO_32 = 0x1_0000_0000
/** The value of one hex digit from its char code ('0'-'9', 'a'-'f', 'A'-'F'). */
function hexValue(code: number): number {
  return code <= 57 ? code - 48 : (code | 32) - 87
}

const textEncoder = /* @__PURE__ */ new TextEncoder()

/**
 * Builds the body of a `COPY … FROM STDIN WITH (FORMAT binary)` in a growing buffer, handed out a
 * chunk at a time with `take()` so that sending can start before the last row is encoded. Binary
 * needs no quoting or escaping of values (so nothing a user typed can break out of it) and is the
 * fastest input format PostgreSQL has.
 */
export class BinaryCopyWriter {
  private buffer: Uint8Array<ArrayBuffer>
  private view: DataView
  private offset = 0

  /** @param sizeHint - expected size of a chunk in bytes; the buffer grows past it when needed. */
  constructor(private readonly sizeHint = 64 * 1024) {
    this.buffer = new Uint8Array(Math.max(sizeHint, 64))
    this.view = new DataView(this.buffer.buffer)
  }

  /** Starts the data: the signature, then the flags field and header extension length, both zero. */
  header(): this {
    this.reserve(SIGNATURE.length + 8)
    this.buffer.set(SIGNATURE, this.offset)
    this.view.setInt32(this.offset + SIGNATURE.length, 0)
    this.view.setInt32(this.offset + SIGNATURE.length + 4, 0)
    this.offset += SIGNATURE.length + 8
    return this
  }

  private reserve(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.offset + bytes))
    grown.set(this.buffer.subarray(0, this.offset))
    this.buffer = grown
    this.view = new DataView(grown.buffer)
  }

  /**
   * Writes `value` as UTF-8 at `at` (room already reserved) and returns the byte count. Most
   * values are short ASCII, which a plain loop copies faster than `encodeInto` can be set up for.
   */
  private utf8(value: string, at: number): number {
    const length = value.length
    if (length <= 256) {
      let index = 0
      for (; index < length; index++) {
        const code = value.charCodeAt(index)
        if (code >= 0x80) break
        this.buffer[at + index] = code
      }
      if (index === length) return length
    }
    return textEncoder.encodeInto(value, this.buffer.subarray(at)).written
  }

  /** Starts a row of `fieldCount` fields. */
  row(fieldCount: number): this {
    this.reserve(2)
    this.view.setInt16(this.offset, fieldCount)
    this.offset += 2
    return this
  }

  /** A NULL field. */
  null(): this {
    this.reserve(4)
    this.view.setInt32(this.offset, -1)
    this.offset += 4
    return this
  }

  /** A `text` field, or NULL. */
  text(value: string | null): this {
    if (value === null) return this.null()
    // A UTF-16 unit never takes more than 3 UTF-8 bytes.
    this.reserve(4 + value.length * 3)
    const written = this.utf8(value, this.offset + 4)
    this.view.setInt32(this.offset, written)
    this.offset += 4 + written
    return this
  }

  /** A `jsonb` field from JSON text, or NULL. */
  jsonb(json: string | null): this {
    if (json === null) return this.null()
    this.reserve(5 + json.length * 3)
    // jsonb's binary form is a version byte (1) before the JSON text.
    this.buffer[this.offset + 4] = 1
    const written = this.utf8(json, this.offset + 5)
    this.view.setInt32(this.offset, written + 1)
    this.offset += 5 + written
    return this
  }

  /** A `uuid` field from its canonical 36-character text (already checked to be a UUID). */
  uuid(value: string): this {
    this.reserve(20)
    this.view.setInt32(this.offset, 16)
    let at = this.offset + 4
    for (let index = 0; index < value.length; index++) {
      const code = value.charCodeAt(index)
      if (code === 45) continue // '-'
      this.buffer[at++] = (hexValue(code) << 4) | hexValue(value.charCodeAt(++index))
    }
    this.offset += 20
    return this
  }

  /** A `double precision` field, or NULL. */
  float8(value: number | null): this {
    if (value === null) return this.null()
    this.reserve(12)
    this.view.setInt32(this.offset, 8)
    this.view.setFloat64(this.offset + 4, value)
    this.offset += 12
    return this
  }

  /** A `timestamptz` field from Unix milliseconds, or NULL. */
  timestamptz(ms: number | null): this {
    if (ms === null) return this.null()
    this.reserve(12)
    this.view.setInt32(this.offset, 8)
    // int64 microseconds without BigInt: split the (exact, < 2^53) milliseconds into 32-bit halves,
    // multiply each by 1000 and carry, so every step stays an exact double.
    const pgMs = ms - POSTGRES_EPOCH_MS
    const msHigh = Math.floor(pgMs / TWO_TO_32)
    const lowMicros = (pgMs - msHigh * TWO_TO_32) * 1000
    const carry = Math.floor(lowMicros / TWO_TO_32)
    this.view.setInt32(this.offset + 4, msHigh * 1000 + carry)
    this.view.setUint32(this.offset + 8, lowMicros - carry * TWO_TO_32)
    this.offset += 12
    return this
  }

  /** Ends the data. */
  trailer(): this {
    this.reserve(2)
    this.view.setInt16(this.offset, -1)
    this.offset += 2
    return this
  }

  /** The bytes written since the last `take()`; later writes go to a fresh buffer. */
  take(): Uint8Array<ArrayBuffer> {
    const chunk = this.buffer.subarray(0, this.offset)
    this.buffer = new Uint8Array(Math.max(this.sizeHint, 64))
    this.view = new DataView(this.buffer.buffer)
    this.offset = 0
    return chunk
  }
}
