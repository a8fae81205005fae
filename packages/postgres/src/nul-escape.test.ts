import { describe, expect, it } from 'vitest'
import { escapeJson, escapeText, unescapeJson, unescapeText } from './nul-escape'

const SAMPLES = ['', 'plain', '\u0000', 'a\u0000b', '\uFDD0', '\uFDD00', '\uFDD0\u0000\uFDD0', '\\u0000', '\\\u0000', '0\u00000']

describe('the NUL escape', () => {
  it('round-trips text, leaves NUL-free text alone and never emits NUL', () => {
    for (const sample of SAMPLES) {
      expect(escapeText(sample)).not.toContain('\u0000')
      expect(unescapeText(escapeText(sample))).toBe(sample)
    }
    expect(escapeText('nothing to do 🚀')).toBe('nothing to do 🚀')
  })

  it('round-trips JSON text, keys included, telling a NUL from a literal backslash-u0000', () => {
    const value = Object.fromEntries(SAMPLES.map((sample, index) => [sample, [sample, { [`${index}${sample}`]: sample }]]))
    const escaped = escapeJson(JSON.stringify(value))
    expect(escaped).not.toMatch(/(^|[^\\])(\\\\)*\\u0000/)
    expect(JSON.parse(unescapeJson(escaped))).toEqual(value)
  })
})
