/**
 * Runs the LLM gateway story end to end on 127.0.0.1: a fake OpenAI-compatible model, the activity
 * log, the gateway tracking into it, and two users going through login, a chat session (JSON and
 * streamed answers) and its deletion. Prints the activity log and the stats, then shuts down.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Activity } from '@usertracking/core'
import { createNodeTracker } from '@usertracking/node'
import { startActivityLog } from './activity-log'
import { startFakeOpenAI } from './fake-openai'
import { createGateway } from './gateway'
import { createLlmClient } from './llm-client'

const model = 'gpt-4o-mini'
const openai = await startFakeOpenAI()
const log = await startActivityLog()
const tracker = createNodeTracker({
  url: `${log.baseUrl}/api/activity`,
  // Pending activities survive a crash or a restart in this directory.
  dir: join(tmpdir(), 'usertracking-llm-gateway'),
  shutdownTimeoutMs: 5000,
})
const gateway = createGateway(tracker, createLlmClient(tracker, openai.baseUrl, model))
await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`
console.log(`Gateway on ${base}, model at ${openai.baseUrl}, activity log at ${log.baseUrl}\n`)

async function call(user: string, method: string, path: string, body?: unknown): Promise<Response> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}.`)
  return response
}

for (const user of ['alice', 'bob']) {
  await call(user, 'POST', '/login', { userId: user })
  const { id } = (await (await call(user, 'POST', '/sessions', { title: 'Trip' })).json()) as { id: string }
  await call(user, 'PATCH', `/sessions/${id}`, { title: `${user}'s trip to Kyiv` })
  const { answer } = (await (await call(user, 'POST', `/sessions/${id}/messages`, { content: 'plan three days for me' })).json()) as { answer: string }
  console.log(`${user} got: ${answer}`)
  const streamed = await (await call(user, 'POST', `/sessions/${id}/messages`, { content: 'add a museum please', stream: true })).text()
  console.log(`${user} got (streamed): ${streamed}`)
  if (user === 'alice') await call(user, 'DELETE', `/sessions/${id}`)
}

await tracker.flush(5000)
const { items } = (await (await fetch(`${log.baseUrl}/api/logs`)).json()) as { items: Activity[] }
console.log('\nActivity log:\n')
console.table(
  items.map((item) => ({
    user: item.userId,
    type: item.activityType,
    session: item.sessionId?.slice(0, 8) ?? '',
    'duration ms': item.durationMs === undefined ? '' : Math.round(item.durationMs),
    tokens: item.tokenUsage ? `${item.tokenUsage.input} in / ${item.tokenUsage.output} out` : '',
    model: item.tokenUsage?.model ?? '',
    request: String(item.context?.requestId ?? '').slice(0, 8),
  })),
)
console.log('\nStats:', JSON.stringify(await (await fetch(`${log.baseUrl}/api/stats`)).json(), null, 2))

await tracker.shutdown()
for (const server of [gateway, log.server, openai.server] as Server[]) {
  server.closeAllConnections()
  server.close()
}
