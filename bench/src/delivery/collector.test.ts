import { afterEach, describe, expect, it } from 'vitest'
import { startCollector, type Collector } from './collector'
import { SCENARIOS } from './scenarios'

const EVENTS = 25

let collector: Collector | undefined
afterEach(async () => {
  await collector?.close()
  collector = undefined
})

describe('the delivery collector', () => {
  // The real SDKs, so an SDK release that changes its wire format fails here, not as a silent
  // "lost" column in the benchmark.
  it.each(SCENARIOS.filter((scenario) => !scenario.tuned).map((scenario) => [scenario.id, scenario] as const))(
    "counts every event %s delivers in its own wire format",
    async (_, scenario) => {
      collector = await startCollector(1000)
      const client = await scenario.start(collector.origin)
      for (let index = 0; index < EVENTS; index++) client.track(index)
      await client.close(20_000)
      expect(collector.counts()).toMatchObject({ delivered: EVENTS, duplicates: 0, malformed: 0, refused: 0 })
    },
  )

  it('answers 503 during an outage without counting, then counts the retry once', async () => {
    collector = await startCollector(10)
    const post = () =>
      fetch(`${collector!.origin}/api/activity`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ activities: [{ activityType: 'job_match', metadata: { i: 3 } }] }),
      })
    collector.outage = true
    expect((await post()).status).toBe(503)
    expect(collector.counts()).toMatchObject({ delivered: 0, refused: 1 })
    collector.outage = false
    expect((await post()).status).toBe(200)
    expect((await post()).status).toBe(200)
    expect(collector.counts()).toMatchObject({ delivered: 1, duplicates: 1, refused: 1 })
  })

  it('answers 400 to a body it cannot parse and counts it as malformed', async () => {
    collector = await startCollector(10)
    const response = await fetch(`${collector.origin}/v1/batch`, { method: 'POST', body: '{"batch": [' })
    expect(response.status).toBe(400)
    expect(collector.counts()).toMatchObject({ delivered: 0, malformed: 1 })
  })
})
