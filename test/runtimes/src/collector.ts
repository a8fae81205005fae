import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** How the collector answers a batch. */
export type CollectorMode =
  /** 200 at once. */
  | { kind: 'accept' }
  /** This status at once (a 503 is a sink outage). */
  | { kind: 'fail'; status: number }
  /** Reads the batch, records it, and answers 200 only at `release()`. */
  | { kind: 'hold' }

/** An ingest endpoint on 127.0.0.1 that the runtimes' trackers deliver to, and what it saw. */
export interface Collector {
  /** `http://127.0.0.1:<port>/api/activity`. */
  url: string
  /** Every batch it read, in order (its activities' ids), whatever it answered. */
  batches: string[][]
  /** Ids it answered 200 for, with how many times each. */
  accepted: Map<string, number>
  /** Batches it refused (answered with a failure status). */
  refused: number
  setMode(mode: CollectorMode): void
  /** Answers every held batch with 200 and accepts from now on. */
  release(): void
  /** Waits until `check()` holds, polling what arrived; throws naming `what` after `timeoutMs`. */
  waitFor(what: string, check: () => boolean, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/**
 * Starts a collector on 127.0.0.1: `POST` bodies of `{ "activities": [...] }`, as `httpSink` sends
 * them. It is the test's instrument, not a store: it counts every id it answered 200 for, so a test
 * sees both what was lost and what was accepted twice.
 */
export async function startCollector(): Promise<Collector> {
  let mode: CollectorMode = { kind: 'accept' }
  const held: { response: ServerResponse; ids: string[] }[] = []
  const batches: string[][] = []
  const accepted = new Map<string, number>()
  let refused = 0

  const accept = (response: ServerResponse, ids: string[]) => {
    for (const id of ids) accepted.set(id, (accepted.get(id) ?? 0) + 1)
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('error', () => response.destroy())
    request.on('end', () => {
      let ids: string[]
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { activities: { id: string }[] }
        ids = body.activities.map((activity) => activity.id)
      } catch {
        response.writeHead(400).end()
        return
      }
      batches.push(ids)
      if (mode.kind === 'fail') {
        refused++
        response.writeHead(mode.status, { 'content-type': 'application/json' }).end('{"error":"outage"}')
      } else if (mode.kind === 'hold') held.push({ response, ids })
      else accept(response, ids)
    })
  })
  // A connection the runtime abandoned (a cancelled request) must not keep close() waiting.
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}/api/activity`,
    batches,
    accepted,
    get refused() {
      return refused
    },
    setMode(next) {
      mode = next
    },
    release() {
      mode = { kind: 'accept' }
      for (const { response, ids } of held.splice(0)) accept(response, ids)
    },
    async waitFor(what, check, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
    async close() {
      for (const { response } of held.splice(0)) response.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
