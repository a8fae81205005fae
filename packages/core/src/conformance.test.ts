import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describeSinkConformance, describeStorageConformance } from '../../testkit/src/index'
import type { Activity } from './activity'
import { httpSink } from './http-sink'
import { memorySink, type MemorySink } from './memory-sink'
import { memoryStorage } from './storage'

describeStorageConformance('memoryStorage', { create: () => memoryStorage(), reopen: (previous) => previous, paging: true })

let memory: MemorySink | undefined
describeSinkConformance('memorySink', {
  create: () => (memory = memorySink()),
  stored: async () => memory!.activities,
})

/** A real loopback ingest endpoint that stores by id (or, `hang`, never answers). */
let server: Server | undefined
const received = new Map<string, Activity>()
const hanging = new Set<ServerResponse>()
async function endpoint(hang: boolean): Promise<string> {
  received.clear()
  server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      if (hang) return void hanging.add(response)
      const { activities } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { activities: Activity[] }
      for (const activity of activities) received.set(activity.id, activity)
      response.writeHead(200).end('{}')
    })
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/activity`
}

describeSinkConformance('httpSink', {
  create: async () => httpSink({ url: await endpoint(false) }),
  createHanging: async () => httpSink({ url: await endpoint(true), timeoutMs: 60_000 }),
  stored: async () => [...received.values()],
  cleanup: () =>
    new Promise<void>((resolve) => {
      for (const response of hanging) response.destroy()
      hanging.clear()
      server?.closeAllConnections()
      server ? server.close(() => resolve()) : resolve()
      server = undefined
    }),
})
