import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { GENAI_PRICES_VERSION, TABLE_SOURCE } from './price-table'

describe('the bundled price table', () => {
  it('is the version cost.source names (the dependency is pinned to it)', () => {
    const entry = createRequire(import.meta.url).resolve('@pydantic/genai-prices')
    const manifest = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }
    expect(manifest.version).toBe(GENAI_PRICES_VERSION)
    const ours = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    expect(ours.dependencies['@pydantic/genai-prices']).toBe(GENAI_PRICES_VERSION)
    expect(TABLE_SOURCE).toBe(`genai-prices@${GENAI_PRICES_VERSION}`)
  })
})
