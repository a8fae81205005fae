import { describe, expect, it } from 'vitest'
import { anonymizeIp, clientIp } from './client-ip'

describe('clientIp', () => {
  const headers = (forwarded: string) => new Headers({ 'x-forwarded-for': forwarded })

  it('ignores X-Forwarded-For unless proxies are trusted', () => {
    expect(clientIp(headers('1.2.3.4'), '10.0.0.1', false)).toBe('10.0.0.1')
  })

  it('takes the entry the trusted hops vouch for, so a forged left-most entry is ignored', () => {
    const forged = headers('6.6.6.6, 203.0.113.9, 10.0.0.2')
    expect(clientIp(forged, '10.0.0.1', 2)).toBe('203.0.113.9')
    expect(clientIp(forged, '10.0.0.1', 1)).toBe('10.0.0.2')
    expect(clientIp(forged, '10.0.0.1', true)).toBe('6.6.6.6')
    expect(clientIp(headers('203.0.113.9'), '10.0.0.1', 5)).toBe('203.0.113.9')
  })

  it('falls back to the peer when the header holds something other than an address', () => {
    expect(clientIp(headers('<script>alert(1)</script>'), '10.0.0.1', true)).toBe('10.0.0.1')
    expect(clientIp(headers(' , '), '10.0.0.1', true)).toBe('10.0.0.1')
  })
})

describe('anonymizeIp', () => {
  it.each([
    ['203.0.113.77', '203.0.113.0'],
    ['::ffff:203.0.113.77', '::ffff:203.0.113.0'],
    ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3::'],
    ['2001:db8::1', '2001:db8:0::'],
    ['::1', '0:0:0::'],
    ['fe80::1%eth0', 'fe80:0:0::'],
  ])('truncates %s to %s', (address, expected) => {
    expect(anonymizeIp(address)).toBe(expected)
  })

  it('gives up on what is not an address', () => {
    expect(anonymizeIp('not-an-ip')).toBeUndefined()
    expect(anonymizeIp('1:2:3:4:5:6:7:8:9')).toBeUndefined()
  })
})
