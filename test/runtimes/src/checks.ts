/**
 * What every runtime must show, asserted over HTTP against the app it serves (fixtures/app.ts):
 * the tracker delivering, and the activity API answering.
 */
import type { Activity, TrackerStats } from '@usertracking/core'
import { expect } from 'vitest'
import type { Collector } from './collector'
import { ADMIN_TOKEN, type ReportedDrop } from './fixtures/app'

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }

/** `POST /track?n=` `count` times at once; returns the ids, in order of `n`. */
export async function trackMany(url: string, count: number, from = 0): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const response = await fetch(`${url}/track?n=${from + index}`, { method: 'POST' })
      expect(response.status).toBe(200)
      const { id } = (await response.json()) as { id?: string }
      expect(id).toEqual(expect.any(String))
      return id!
    }),
  )
}

/** What the app's tracker says: its stats, and every drop it was told of. */
export async function trackerState(url: string): Promise<{ stats: TrackerStats; drops: ReportedDrop[] }> {
  const response = await fetch(`${url}/tracker`)
  expect(response.status).toBe(200)
  return (await response.json()) as { stats: TrackerStats; drops: ReportedDrop[] }
}

/** Waits until the app's tracker has settled everything it accepted (nothing `queued`). */
export async function waitUntilSettled(url: string, collector: Collector, timeoutMs = 60_000): Promise<{ stats: TrackerStats; drops: ReportedDrop[] }> {
  let state = await trackerState(url)
  const deadline = Date.now() + timeoutMs
  while (state.stats.queued > 0) {
    if (Date.now() > deadline) throw new Error(`The tracker still holds ${state.stats.queued} activities after ${timeoutMs} ms: ${JSON.stringify(state.stats)}; the collector read ${collector.batches.length} batches.`)
    await new Promise((resolve) => setTimeout(resolve, 100))
    state = await trackerState(url)
  }
  return state
}

/** Every id was accepted by the collector exactly once: none lost, none twice. */
export function expectAcceptedOnce(collector: Collector, ids: string[]): void {
  expect(new Set(ids).size).toBe(ids.length)
  expect(ids.filter((id) => collector.accepted.get(id) !== 1)).toEqual([])
  expect(collector.accepted.size).toBe(ids.length)
}

/**
 * 200 `POST /track` at once while the collector holds every answer: all are answered before any
 * delivery could finish (a request that waited for delivery would never answer); released, every
 * activity is accepted exactly once.
 *
 * @param url - the app.
 * @param collector - the app's collector.
 * @param beforeSettling - what to do once released, before waiting (Deno and Bun flush over HTTP).
 */
export async function checkAnsweredBeforeDelivery(url: string, collector: Collector, beforeSettling?: () => Promise<void>): Promise<void> {
  collector.setMode({ kind: 'hold' })
  const ids = await trackMany(url, 200)
  expect(collector.accepted.size).toBe(0)
  collector.release()
  await beforeSettling?.()
  const { stats, drops } = await waitUntilSettled(url, collector)
  expectAcceptedOnce(collector, ids)
  expect(stats).toMatchObject({ sent: 200, dropped: 0, queued: 0 })
  expect(drops).toEqual([])
}

/**
 * 200 `POST /track` at once during a sink outage (503) that ends once the collector refused three
 * batches: every activity is accepted exactly once, after retries, and nothing is dropped.
 *
 * @param url - the app, whose tracker retries within seconds (`retryMaxDelayMs` of 500 or so).
 * @param collector - the app's collector.
 */
export async function checkOutageRecovered(url: string, collector: Collector): Promise<void> {
  collector.setMode({ kind: 'fail', status: 503 })
  const ids = await trackMany(url, 200)
  await collector.waitFor('three refused batches', () => collector.refused >= 3)
  collector.setMode({ kind: 'accept' })
  const { stats, drops } = await waitUntilSettled(url, collector)
  expectAcceptedOnce(collector, ids)
  expect(stats.retried).toBeGreaterThan(0)
  expect(stats).toMatchObject({ sent: 200, dropped: 0 })
  expect(drops).toEqual([])
}

/**
 * The activity API (`createActivityHandler`) over whatever store the app serves: a batch ingested
 * (a repeat of it stores nothing twice), read back by user, counted by stats, a body that is not an
 * activity refused with 400, and an anonymous read with 401.
 *
 * @param url - the app.
 * @param userId - a user no other check writes as.
 */
export async function checkActivityApi(url: string, userId: string): Promise<void> {
  const activities = Array.from({ length: 30 }, (_, index) => ({
    userId,
    activityType: index % 3 === 0 ? 'resume_generation' : 'job_match',
    timestamp: new Date(Date.UTC(2025, 6, 6, 10, 0, index)).toISOString(),
    tokenUsage: 100 + index,
    metadata: { index },
  }))
  const ingest = (batch: object[]) => fetch(`${url}/api/activity`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ activities: batch }) })
  const first = await ingest(activities)
  expect(first.status).toBe(200)
  const { ids } = (await first.json()) as { ids: string[] }
  expect(ids).toHaveLength(30)
  // A client's retry of the same batch, ids and all.
  const again = await ingest(activities.map((activity, index) => ({ ...activity, id: ids[index] })))
  expect(again.status).toBe(200)

  const listed = await fetch(`${url}/api/activities?userId=${userId}&limit=100&sort=timestamp&order=asc`, { headers: admin })
  expect(listed.status).toBe(200)
  const { items } = (await listed.json()) as { items: Activity[] }
  expect(items.map((item) => item.metadata?.index)).toEqual(activities.map((_, index) => index))
  expect(items[0]).toMatchObject({ userId, activityType: 'resume_generation', tokenUsage: { total: 100 } })

  const stats = await fetch(`${url}/api/activities/stats?userId=${userId}&per=activityType`, { headers: admin })
  expect(stats.status).toBe(200)
  expect(await stats.json()).toMatchObject({ total: 30, uniqueUsers: 1, byType: [{ activityType: 'job_match', count: 20 }, { activityType: 'resume_generation', count: 10 }] })

  const bad = await fetch(`${url}/api/activity`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ userId, metadata: 'no activity type' }) })
  expect(bad.status).toBe(400)
  const anonymous = await fetch(`${url}/api/activities?userId=${userId}`)
  expect(anonymous.status).toBe(401)
}
