import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { memorySink } from '@usertracking/core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createUserTracking, type UserTrackingApi } from './user-tracking'
import type { UserTrackingOptions } from './options'

/** One request the identify route received. */
interface LinkRequest {
  path: string
  contentType: string | undefined
  body: unknown
}

let server: Server
let base: string
const received: LinkRequest[] = []
/** The status the route answers with. */
let status = 200

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
}

beforeAll(async () => {
  // The test page's origin is not this server's: it answers CORS with credentials, as an identify
  // route on another origin must for the session cookie to go along.
  server = createServer(async (request, response) => {
    const cors = {
      'access-control-allow-origin': String(request.headers.origin ?? '*'),
      'access-control-allow-credentials': 'true',
      'access-control-allow-headers': 'content-type',
      'access-control-allow-methods': 'POST',
    }
    if (request.method === 'OPTIONS') {
      response.writeHead(204, cors).end()
      return
    }
    const text = await readBody(request)
    // The ingest shares this origin: its batches are accepted and not recorded.
    if (request.url === '/api/activity') {
      response.writeHead(200, cors).end('{}')
      return
    }
    received.push({ path: request.url ?? '', contentType: request.headers['content-type'], body: JSON.parse(text) })
    response.writeHead(status, { ...cors, 'content-type': 'application/json' }).end('{"linked":0}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

let tracking: UserTrackingApi
const pages: UserTrackingApi[] = []

/** A page load: a new tracker over the same localStorage. */
function load(options: UserTrackingOptions = {}): UserTrackingApi {
  tracking = createUserTracking()
  pages.push(tracking)
  tracking.config({ endpoint: `${base}/api/activity`, sinks: [memorySink()], trackPageViews: false, ...options })
  return tracking
}

const anonymousId = () => localStorage.getItem('usertracking:aid')
const pending = () => localStorage.getItem('usertracking:link')

beforeEach(() => {
  localStorage.clear()
  received.length = 0
  status = 200
})
afterEach(async () => {
  for (const page of pages.splice(0)) await page.shutdown(0)
})

describe('identify() links the anonymous id to the signed-in user', () => {
  it('POSTs { anonymousId } as JSON to the endpoint’s sibling identify route, once per sign-in; after reset() the next sign-in links the new id', async () => {
    load()
    const before = anonymousId()
    expect(before).toBeTruthy()
    tracking.identify('user-42')
    await expect.poll(() => received).toEqual([{ path: '/api/identify', contentType: 'application/json', body: { anonymousId: before } }])
    await expect.poll(pending).toBeNull()
    // The same user again (a page that calls identify on every load): nothing left to link.
    tracking.identify('user-42')
    expect(pending()).toBeNull()
    tracking.reset()
    const after = anonymousId()
    expect(after).not.toBe(before)
    tracking.identify('user-7')
    await expect.poll(() => received.map((request) => request.body)).toEqual([{ anonymousId: before }, { anonymousId: after }])
  })

  it('keeps a link the server could not take (503) and sends it on the next page; a 4xx settles it', async () => {
    status = 503
    load()
    const visitor = anonymousId()
    tracking.identify('user-42')
    await expect.poll(() => received.length).toBe(1)
    expect(pending()).toBe(visitor)
    await tracking.shutdown(0)

    status = 200
    load()
    await expect.poll(() => received.length).toBe(2)
    await expect.poll(pending).toBeNull()
    expect(received[1]!.body).toEqual({ anonymousId: visitor })

    status = 401
    tracking.reset()
    tracking.identify('user-9')
    await expect.poll(() => received.length).toBe(3)
    await expect.poll(pending).toBeNull()
  })

  it('goes to identifyEndpoint when set, and nowhere with identifyEndpoint: false', async () => {
    load({ identifyEndpoint: `${base}/auth/link` })
    tracking.identify('user-1')
    await expect.poll(() => received.map((request) => request.path)).toEqual(['/auth/link'])
    await tracking.shutdown(0)
    localStorage.clear()
    load({ identifyEndpoint: false })
    tracking.identify('user-2')
    expect(pending()).toBeNull()
  })

  it('with requireConsent, sends nothing before consent, and links once the visitor agrees', async () => {
    load({ requireConsent: true })
    tracking.identify('user-1')
    expect(localStorage.length).toBe(0)
    tracking.consent(true)
    await expect.poll(() => received.map((request) => request.body)).toEqual([{ anonymousId: anonymousId() }])
  })

  it('never throws into the page when fetch itself throws', async () => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch').mockImplementation(() => {
      throw new TypeError('fetch is broken')
    })
    try {
      load()
      expect(() => tracking.identify('user-1')).not.toThrow()
      expect(pending()).toBe(anonymousId())
    } finally {
      fetchSpy.mockRestore()
    }
  })
})
