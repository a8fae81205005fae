import { describe, expect, it } from 'vitest'
import { pageUrl } from './page-url'

describe('pageUrl', () => {
  it('keeps only utm_* parameters by default, and drops the fragment', () => {
    expect(pageUrl('https://shop.example/p/1?utm_source=news&token=abc&utm_campaign=spring&email=a%40b.c#access_token=x')).toBe(
      'https://shop.example/p/1?utm_source=news&utm_campaign=spring',
    )
    expect(pageUrl('https://shop.example/reset?code=123456')).toBe('https://shop.example/reset')
  })

  it('keeps the names and prefixes it is given, or everything with *', () => {
    expect(pageUrl('https://a.example/?q=shoes&page=2&ref=x&ref_id=y', ['q', 'ref*'])).toBe('https://a.example/?q=shoes&ref=x&ref_id=y')
    expect(pageUrl('https://a.example/?q=shoes&page=2', ['*'])).toBe('https://a.example/?q=shoes&page=2')
    expect(pageUrl('https://a.example/?q=shoes', [])).toBe('https://a.example/')
  })

  it('answers an empty string for an empty or unparsable URL (no referrer)', () => {
    expect(pageUrl('')).toBe('')
    expect(pageUrl('not a url')).toBe('')
  })
})
