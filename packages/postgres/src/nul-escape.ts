/**
 * PostgreSQL refuses U+0000 in `text` and in `jsonb` (it is the C string terminator), so an activity
 * carrying one would be lost. Strings are stored with a reversible escape instead: U+0000 becomes
 * ESCAPE + "0" and ESCAPE itself becomes ESCAPE + ESCAPE. ESCAPE is U+FDD0, a Unicode noncharacter:
 * reserved for exactly this kind of internal use, so real text essentially never carries it, and
 * strings without either character (nearly all) are stored as they are.
 */
const ESCAPE = '\uFDD0'
const NEEDS_ESCAPE = /[\u0000\uFDD0]/
const ESCAPABLE = /[\u0000\uFDD0]/g
const ESCAPED = /\uFDD0([0\uFDD0])/g
// In JSON text a NUL is the six characters \u0000; pairs of backslashes are matched first so that an
// escaped backslash followed by "u0000" (a literal backslash-u in the data) is left alone.
const JSON_ESCAPABLE = /\\(?:\\|u0000)|\uFDD0/g

/** Makes a string storable in a `text` column. */
export function escapeText(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPABLE, (char) => (char === ESCAPE ? ESCAPE + ESCAPE : ESCAPE + '0')) : value
}

/** Reverses {@link escapeText}. */
export function unescapeText(value: string): string {
  return value.includes(ESCAPE) ? value.replace(ESCAPED, (_, char: string) => (char === '0' ? '\u0000' : ESCAPE)) : value
}

/** Makes the output of `JSON.stringify` storable in a `jsonb` column, escaping every string and key in it. */
export function escapeJson(json: string): string {
  if (!json.includes('\\u0000') && !json.includes(ESCAPE)) return json
  return json.replace(JSON_ESCAPABLE, (match) => (match === ESCAPE ? ESCAPE + ESCAPE : match === '\\\\' ? match : ESCAPE + '0'))
}

/** Reverses {@link escapeJson} on the text PostgreSQL prints for a `jsonb` value, ready for `JSON.parse`. */
export function unescapeJson(json: string): string {
  return json.includes(ESCAPE) ? json.replace(ESCAPED, (_, char: string) => (char === '0' ? '\\u0000' : ESCAPE)) : json
}
