import type { ActivityInput } from '@usertracking/core'
import { act, renderHook, waitFor } from '@testing-library/react'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { providerFor, startBackend, stores, type Backend } from '../test/harness'
import { useActivities, type ActivitiesQuery } from './use-activities'
import { useActivityStats } from './use-activity-stats'
import { useLiveCount } from './use-live-count'

const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString()

const seed: ActivityInput[] = [
  { userId: 'ana', activityType: 'resume_generation', timestamp: at(50), tokenUsage: 1420, timeTaken: 3.2 },
  { userId: 'ana', activityType: 'job_match', timestamp: at(40), tokenUsage: 300, timeTaken: 1.1 },
  { userId: 'ana', activityType: 'resume_generation', timestamp: at(30), tokenUsage: 2200, timeTaken: 5 },
  { userId: 'ana', activityType: 'job_match', timestamp: at(20), tokenUsage: 90, timeTaken: 0.4 },
  { userId: 'ana', activityType: 'resume_generation', timestamp: at(10), tokenUsage: 1800, timeTaken: 4.4 },
  { userId: 'ben', activityType: 'resume_generation', timestamp: at(5), tokenUsage: 999, timeTaken: 2 },
]

let backend: Backend

describe.each(stores)('the hooks against the server handler over the $name', ({ open }) => {
  beforeAll(async () => {
    backend = await startBackend(open)
    await backend.server.ingest(seed)
  })
  afterAll(() => backend.close())

  it('useActivities pages through the user’s own rows with the cursor, and back', async () => {
    const { result } = renderHook(() => useActivities({ perPage: 2 }, { live: false }), { wrapper: providerFor(backend.clientFor('ana')) })
    await waitFor(() => expect(result.current.loading).toBe(false))
    expect(result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([1800, 90])
    expect(result.current).toMatchObject({ page: 1, pages: 3, total: 5, hasNext: true, hasPrevious: false })
    act(() => result.current.next())
    await waitFor(() => expect(result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([2200, 300]))
    act(() => result.current.next())
    await waitFor(() => expect(result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([1420]))
    expect(result.current.hasNext).toBe(false)
    act(() => result.current.previous())
    await waitFor(() => expect(result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([2200, 300]))
    expect(result.current.page).toBe(2)
  })

  it('useActivities counts the matches with the first cursor page only, and keeps the count on later pages', async () => {
    const asked: URLSearchParams[] = []
    const client = backend.clientFor('ana', {
      fetch: (input, init) => {
        asked.push(new URL(String(input)).searchParams)
        return fetch(input, init)
      },
    })
    const { result } = renderHook(() => useActivities({ perPage: 2 }, { live: false }), { wrapper: providerFor(client) })
    await waitFor(() => expect(result.current.loading).toBe(false))
    expect(result.current).toMatchObject({ page: 1, pages: 3, total: 5 })
    act(() => result.current.next())
    await waitFor(() => expect(result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([2200, 300]))
    expect(result.current).toMatchObject({ page: 2, pages: 3, total: 5 })
    act(() => result.current.next())
    await waitFor(() => expect(result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([1420]))
    expect(result.current).toMatchObject({ page: 3, pages: 3, total: 5, hasNext: false })
    expect(asked.map((params) => [params.has('cursor'), params.get('includeTotal')])).toEqual([
      [false, 'true'],
      [true, null],
      [true, null],
    ])
  })

  it('useActivities with page numbers jumps straight to any page', async () => {
    const { result } = renderHook(() => useActivities({ perPage: 2, sort: 'tokens', order: 'asc' }, { pagination: 'page', live: false }), {
      wrapper: providerFor(backend.clientFor('ana')),
    })
    await waitFor(() => expect(result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([90, 300]))
    expect(result.current).toMatchObject({ page: 1, pages: 3, total: 5, hasNext: true })
    act(() => result.current.goTo(3))
    await waitFor(() => expect(result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([2200]))
    expect(result.current).toMatchObject({ page: 3, hasNext: false, hasPrevious: true })
  })

  it('useActivities sorts and filters, and goes back to the first page when the query changes', async () => {
    const { result, rerender } = renderHook((query: Parameters<typeof useActivities>[0]) => useActivities(query, { live: false }), {
      wrapper: providerFor(backend.clientFor('ana')),
      initialProps: { perPage: 2, sort: 'tokens', order: 'desc' },
    })
    await waitFor(() => expect(result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([2200, 1800]))
    act(() => result.current.next())
    await waitFor(() => expect(result.current.page).toBe(2))
    rerender({ perPage: 2, sort: 'durationMs', order: 'asc', activityType: 'job_match' })
    await waitFor(() => expect(result.current.items.map((activity) => activity.durationMs)).toEqual([400, 1100]))
    expect(result.current).toMatchObject({ page: 1, total: 2, hasNext: false })
  })
})

describe('live hooks', () => {
  beforeAll(async () => {
    backend = await startBackend()
    await backend.server.ingest(seed)
  })
  afterAll(() => backend.close())

  it('useActivities puts a new activity on top of the first page once, and only counts it on another page', async () => {
    const client = backend.clientFor('ana')
    const first = renderHook(() => useActivities({ perPage: 2 }), { wrapper: providerFor(client) })
    const second = renderHook(() => useActivities({ perPage: 2 }), { wrapper: providerFor(client) })
    await waitFor(() => expect(first.result.current.live.connected).toBe(true))
    act(() => second.result.current.next())
    await waitFor(() => expect(second.result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([2200, 300]))
    await waitFor(() => expect(second.result.current.live.connected).toBe(true))

    const id = '01890000-0000-7000-8000-00000000abcd'
    const fresh: ActivityInput = { id, userId: 'ana', activityType: 'resume_generation', timestamp: at(0), tokenUsage: 77 }
    await backend.server.ingest([fresh])
    await backend.server.ingest([fresh])
    await backend.server.ingest([{ userId: 'ben', activityType: 'resume_generation', tokenUsage: 5 }])
    await waitFor(() => expect(first.result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([77, 1800, 90]))
    expect(first.result.current.fresh.map((activity) => activity.id)).toEqual([id])
    expect(first.result.current.total).toBe(6)
    // The reader on page 2 keeps their rows where they are.
    await waitFor(() => expect(second.result.current.pending).toBe(1))
    expect(second.result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([2200, 300])
    act(() => second.result.current.showPending())
    await waitFor(() => expect(second.result.current.items.map((activity) => activity.tokenUsage?.total)).toEqual([77, 1800]))
    expect(second.result.current).toMatchObject({ page: 1, pending: 0 })
  })

  it('useActivities reloads the page when the server cannot replay the gap, so nothing written meanwhile is missing', async () => {
    const { result, rerender } = renderHook((query: ActivitiesQuery) => useActivities(query), {
      wrapper: providerFor(backend.clientFor('ana')),
      initialProps: { activityType: 'gap' } as ActivitiesQuery,
    })
    // A query change first: the reload must apply to the query on screen.
    rerender({ activityType: 'gap', perPage: 5 })
    await waitFor(() => expect(result.current.live.connected).toBe(true))
    await waitFor(() => expect(result.current.loading).toBe(false))
    backend.server.restart()
    await backend.server.ingest([{ userId: 'ana', activityType: 'gap', description: 'written while the stream was down' }])
    await waitFor(() => expect(result.current.items.map((activity) => activity.description)).toEqual(['written while the stream was down']))
    expect(result.current.fresh).toEqual([])
  })

  it('useActivityStats refetches when activities arrive live', async () => {
    const { result } = renderHook(() => useActivityStats({ activityType: 'job_match' }, { live: true, liveThrottleMs: 0 }), {
      wrapper: providerFor(backend.clientFor('ana')),
    })
    await waitFor(() => expect(result.current.stats?.total).toBe(2))
    expect(result.current.stats?.tokens.total).toBe(390)
    // The live subscription opens with the first render; wait for it through a hook sharing it.
    const probe = renderHook(() => useActivities({ activityType: 'job_match' }), { wrapper: providerFor(backend.clientFor('ana')) })
    await waitFor(() => expect(probe.result.current.live.connected).toBe(true))
    await backend.server.ingest([{ userId: 'ana', activityType: 'job_match', tokenUsage: 10 }])
    await waitFor(() => expect(result.current.stats?.total).toBe(3))
    expect(result.current.stats?.tokens.total).toBe(400)
  })

  it('useLiveCount counts since a moment, then counts up as activities happen', async () => {
    const { result } = renderHook(() => useLiveCount({ activityType: 'resume_generation' }, { since: new Date(Date.parse(at(35))) }), {
      wrapper: providerFor(backend.clientFor('admin')),
    })
    await waitFor(() => expect(result.current.live.connected).toBe(true))
    await waitFor(() => expect(result.current.count).toBeGreaterThanOrEqual(3))
    const before = result.current.count!
    await backend.server.ingest([
      { userId: 'cy', activityType: 'resume_generation' },
      { userId: 'cy', activityType: 'job_match' },
      { userId: 'cy', activityType: 'resume_generation', timestamp: at(60 * 24) },
    ])
    await waitFor(() => expect(result.current.count).toBe(before + 1))
  })
})
