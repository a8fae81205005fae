/** How much of the proxy chain in `X-Forwarded-For` to believe; see `ActivityHandlerOptions.trustProxy`. */
export type TrustProxy = boolean | number

function expandIpv6(address: string): number[] | undefined {
  const halves = address.split('::')
  if (halves.length > 2) return undefined
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16)))
  const head = parse(halves[0]!)
  const tail = halves.length === 2 ? parse(halves[1]!) : []
  const missing = 8 - head.length - tail.length
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined
  const groups = [...head, ...Array<number>(missing).fill(0), ...tail]
  return groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff) ? groups : undefined
}

/**
 * Truncates an address so it no longer names one host: the last octet of IPv4 (a /24), everything
 * past the first 48 bits of IPv6 (a /48, a typical site prefix). Unparseable input yields undefined.
 */
export function anonymizeIp(address: string): string | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) {
    const v4 = anonymizeIp(mapped[1]!)
    return v4 && `::ffff:${v4}`
  }
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address)
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0`
  const groups = expandIpv6(address.replace(/%.*$/, ''))
  if (!groups) return undefined
  return `${groups.slice(0, 3).map((group) => group.toString(16)).join(':')}::`
}

/**
 * The client's address: the socket's peer, or with `trustProxy` an entry of `X-Forwarded-For`.
 * `true` trusts every proxy (the left-most entry, the original client); a number trusts that many
 * proxies in front of this server (counted from the right), so a client cannot forge its address
 * by sending its own `X-Forwarded-For`.
 */
export function clientIp(headers: Headers, remoteAddress: string | undefined, trustProxy: TrustProxy): string | undefined {
  return clientIpFrom(headers.get('x-forwarded-for'), remoteAddress, trustProxy)
}

/** {@link clientIp} from the `X-Forwarded-For` value itself, for callers without a `Headers` object. */
export function clientIpFrom(forwarded: string | null | undefined, remoteAddress: string | undefined, trustProxy: TrustProxy): string | undefined {
  if (trustProxy === false || trustProxy === 0) return remoteAddress
  if (!forwarded) return remoteAddress
  const chain = forwarded
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
  if (chain.length === 0) return remoteAddress
  // The peer is the nearest proxy; each trusted hop vouches for the entry before it.
  const chosen = trustProxy === true ? chain[0]! : chain[Math.max(0, chain.length - trustProxy)]!
  return IP_PATTERN.test(chosen) ? chosen : remoteAddress
}

/** Only characters an IPv4 or IPv6 address can hold, so a forged header cannot smuggle text into rows. */
const IP_PATTERN = /^[0-9a-fA-F.:]{2,45}$/
