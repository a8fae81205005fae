import { describe, expect, it } from 'vitest'
import { readScriptOptions } from './script-options'

describe('readScriptOptions', () => {
  it('reads data-* attributes as config options, with booleans, numbers and JSON', () => {
    const script = document.createElement('script')
    script.setAttribute('data-endpoint', '/api/activity')
    script.setAttribute('data-debug', 'true')
    script.setAttribute('data-track-input-focus', 'true')
    script.setAttribute('data-track-page-views', 'false')
    script.setAttribute('data-batch-size', '10')
    script.setAttribute('data-user-id', 'u-1')
    script.setAttribute('data-properties', '{"site":"shop-1"}')
    script.setAttribute('data-keep-query-parameters', '["utm_*","q"]')
    expect(readScriptOptions(script.dataset)).toEqual({
      endpoint: '/api/activity',
      debug: true,
      trackInputFocus: true,
      trackPageViews: false,
      batchSize: 10,
      userId: 'u-1',
      properties: { site: 'shop-1' },
      keepQueryParameters: ['utm_*', 'q'],
    })
  })

  it('reads an empty attribute (`<script data-require-consent …>`) as true', () => {
    expect(readScriptOptions({ requireConsent: '', endpoint: '/api/activity' })).toEqual({ requireConsent: true, endpoint: '/api/activity' })
  })
})
