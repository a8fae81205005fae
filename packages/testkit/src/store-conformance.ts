/**
 * The conformance suite every {@link Store} must pass, so that the server handlers (written against
 * the interface only) behave the same over any backend. A store's own test file calls
 * {@link describeStoreConformance} once; the suite registers its vitest tests.
 *
 * Every read is checked against the same query answered in plain JavaScript over the rows that were
 * written. Where the contract leaves an order open (rows that tie on the sort key, byType entries
 * with equal counts), any order is accepted; everything else is exact. Semantics it pins down:
 *
 * - Filters select exactly what core's `activityMatcher` selects, and stats are exactly core's
 *   `computeStats` over the selected rows (the one definition of the contract; both have unit tests
 *   of their own in core): `from` / `receivedFrom` inclusive, `to` / `receivedTo` exclusive,
 *   `minTokens` / `maxTokens` excluding rows without token usage.
 * - Rows missing the sort value (`durationMs`, `tokens`) come last, whether the order is asc or desc.
 * - Paging with `nextCursor` visits every matching row exactly once, also while rows are inserted.
 * - A cursor the store did not issue is refused with a `RangeError` (the server answers it with 400).
 * - `duration.p50Ms` / `p95Ms` interpolate linearly between ranks, as PostgreSQL's `percentile_cont`.
 * - `buckets` start at multiples of `intervalMs` since the epoch (on `timestamp` or `receivedAt`);
 *   buckets with no rows may be omitted; without `intervalMs` there is one bucket per key.
 * - `offset` pages visit every matching row once, in order; it is refused with a `RangeError` beyond
 *   `MAX_LIST_OFFSET` or together with a cursor.
 * - `identify` attributes an anonymous visitor's stored and later activities to the user;
 *   `deleteActivities` removes a person's rows and refuses late deliveries of what they did before.
 * - Strings round-trip byte for byte, NUL characters included.
 * - With `retention: { maxAgeDays }`, `expireActivities` deletes the activities whose `timestamp` or
 *   `receivedAt` is more than `maxAgeDays` ago (a recent or future `timestamp` keeps no row that
 *   was received long ago) and keeps the others; the background job does the same by itself until
 *   `close()`. A store may keep an expired activity somewhat longer (PostgreSQL's monthly partitions
 *   drop whole months), so the rows the suite writes are far from the boundary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { activityMatcher, computeStats, MAX_LIST_OFFSET } from '@usertracking/core'
import type {
  Activity,
  ActivityFilter,
  ActivitySortKey,
  ActivityStats,
  ExportQuery,
  ListQuery,
  RetentionOptions,
  StatsQuery,
  Store,
} from '@usertracking/core'

/** A store under test and how to dispose of it. */
export interface StoreFixture {
  /** A store holding no activities. */
  store: Store
  /** Drops whatever the store created (tables, connections). The suite calls `store.close()` first. */
  cleanup(): Promise<void>
}

/** Options the suite asks a store for; pass each one on to the store. */
export interface StoreFixtureOptions {
  /** The store's `retention` option, for the retention tests. */
  retention?: RetentionOptions
}

const HOUR = 3_600_000
const BASE_MS = Date.UTC(2025, 6, 6, 0, 0, 0)
const USERS = ['u1', 'u2', 'u3', 'u4', 'u5']
const TYPES = ['resume_generation', 'job_match', 'page_view', 'click', 'deleted']
const DURATIONS = [0, 100, 250, 1000, 3200]
const TOKEN_TOTALS = [0, 150, 500, 800, 1420]
const HOSTS = ['app.example.com', 'shop.example.org', 'blog.example.net']
const PAGES = ['/', '/pricing', '/jobs/42', '/résumé?draft=1']

/** Strings that break naive SQL, JSON, CSV or UTF-16 handling; each must come back unchanged. */
export const HOSTILE_STRINGS: readonly string[] = [
  "'; DROP TABLE activities; --",
  "Robert'); DELETE FROM activity WHERE ('1'='1",
  '$1 $$ $tag$ %s %_ \\ \\\\ ` ${x}',
  'NUL \u0000 in the middle',
  '\u0000',
  '👩‍💻🚀 emoji, ZWJ and ünïcödé ∑ 中文 עברית',
  '"quoted", with, commas\r\nand\nnewlines\tand tabs',
  '=HYPERLINK("http://example.com")',
  'x'.repeat(10_000),
]

function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Deterministic rows with many ties on every sort key and many missing optional fields. */
function dataset(count: number, seed: number): Activity[] {
  const random = mulberry32(seed)
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!
  const rows: Activity[] = []
  for (let index = 0; index < count; index++) {
    const hour = Math.floor(random() * 72)
    // Half the rows sit exactly on the hour, so timestamps tie and `from` / `to` boundaries hit rows.
    const offset = random() < 0.5 ? 0 : Math.floor(random() * HOUR)
    const activity: Activity = {
      id: crypto.randomUUID(),
      activityType: pick(TYPES),
      timestamp: new Date(BASE_MS + hour * HOUR + offset).toISOString(),
      metadata: { index, tags: ['a', index % 3], nested: { ok: index % 2 === 0 } },
    }
    // Anonymous visitors come back: a small pool of ids, some of them also seen with a user.
    if (random() > 0.1) activity.userId = pick(USERS)
    else activity.anonymousId = `anon-${index % 7}`
    if (activity.userId !== undefined && random() < 0.1) activity.anonymousId = `anon-${index % 7}`
    // Received between a second and six hours after the user acted (a batch that waited offline).
    activity.receivedAt = new Date(Date.parse(activity.timestamp) + 1000 + Math.floor(random() * 6 * HOUR)).toISOString()
    if (random() > 0.3) activity.durationMs = random() < 0.7 ? pick(DURATIONS) : Math.round(random() * 10_000_000) / 1000
    if (random() > 0.4) {
      const total = random() < 0.7 ? pick(TOKEN_TOTALS) : Math.floor(random() * 3000)
      activity.tokenUsage = random() < 0.5 ? { total } : { input: Math.floor(total / 3), output: total - Math.floor(total / 3), total }
      const priced = random()
      if (priced < 0.6) {
        const input = Math.round(total * 1.25) / 1e6
        activity.cost = { total: input + total / 5e5, input, output: total / 5e5, currency: 'USD', source: 'conformance' }
      } else if (priced < 0.8) activity.cost = { unpriced: true, currency: 'USD', source: 'conformance' }
    }
    if (random() < 0.5) activity.context = { page: pick(PAGES), host: pick(HOSTS) }
    else if (random() < 0.2) activity.context = { page: pick(PAGES) }
    const status = random()
    if (status < 0.3) activity.status = 'success'
    else if (status < 0.45) {
      activity.status = 'error'
      activity.error = 'Upstream timed out.'
    }
    if (random() < 0.3) activity.sessionId = `s-${Math.floor(random() * 10)}`
    rows.push(activity)
  }
  return rows
}

function referenceFilter(rows: readonly Activity[], filter: ActivityFilter): Activity[] {
  return rows.filter(activityMatcher(filter))
}

function sortKey(row: Activity, sort: ActivitySortKey): number | null {
  if (sort === 'timestamp') return Date.parse(row.timestamp)
  if (sort === 'durationMs') return row.durationMs ?? null
  return row.tokenUsage?.total ?? null
}

function referenceSort(rows: readonly Activity[], sort: ActivitySortKey, order: 'asc' | 'desc'): Activity[] {
  const present = rows.filter((row) => sortKey(row, sort) !== null)
  const missing = rows.filter((row) => sortKey(row, sort) === null)
  present.sort((a, b) => (sortKey(a, sort)! - sortKey(b, sort)!) * (order === 'asc' ? 1 : -1))
  return [...present, ...missing]
}

/** Same rows, and the same sort key at every position: exact, except among rows that tie. */
function expectSameOrder(actual: readonly Activity[], expected: readonly Activity[], sort: ActivitySortKey, label: string): void {
  const ids = actual.map((row) => row.id)
  expect(new Set(ids).size, `${label}: a row was returned twice`).toBe(ids.length)
  expect([...ids].sort(), `${label}: rows`).toEqual(expected.map((row) => row.id).sort())
  expect(
    actual.map((row) => sortKey(row, sort)),
    `${label}: order`,
  ).toEqual(expected.map((row) => sortKey(row, sort)))
}

async function listAll(store: Store, query: ListQuery, maxPages = 10_000): Promise<{ items: Activity[]; pages: number }> {
  const items: Activity[] = []
  let cursor: string | undefined
  let pages = 0
  do {
    const page = await store.list(cursor === undefined ? query : { ...query, cursor })
    pages++
    if (query.limit !== undefined) expect(page.items.length).toBeLessThanOrEqual(query.limit)
    items.push(...page.items)
    cursor = page.nextCursor
    if (pages > maxPages) throw new Error('[usertracking] [conformance] The store kept returning a nextCursor.')
  } while (cursor !== undefined)
  return { items, pages }
}

function referenceStats(rows: readonly Activity[], query: StatsQuery): ActivityStats {
  return computeStats(rows, query, 'reference')
}

function expectSameStats(actual: ActivityStats, expected: ActivityStats, label: string): void {
  expect(actual.total, `${label}: total`).toBe(expected.total)
  expect(actual.uniqueUsers, `${label}: uniqueUsers`).toBe(expected.uniqueUsers)
  expect(actual.uniqueVisitors, `${label}: uniqueVisitors`).toBe(expected.uniqueVisitors)
  expect(actual.sessions, `${label}: sessions`).toBe(expected.sessions)
  expect(actual.tokens, `${label}: tokens`).toEqual(expected.tokens)
  expect(actual.cost.currency, `${label}: cost.currency`).toBe('USD')
  expect(actual.cost.unpriced, `${label}: cost.unpriced`).toBe(expected.cost.unpriced)
  expect(actual.cost.total, `${label}: cost.total`).toBeCloseTo(expected.cost.total, 9)
  for (const field of ['avgMs', 'p50Ms', 'p95Ms'] as const) {
    const value = expected.duration[field]
    if (value === null) expect(actual.duration[field], `${label}: duration.${field}`).toBeNull()
    else expect(actual.duration[field], `${label}: duration.${field}`).toBeCloseTo(value, 6)
  }
  const counts = actual.byType.map((entry) => entry.count)
  expect(counts, `${label}: byType is most frequent first`).toEqual([...counts].sort((a, b) => b - a))
  const byName = (a: { activityType: string }, b: { activityType: string }) =>
    a.activityType < b.activityType ? -1 : a.activityType > b.activityType ? 1 : 0
  const withoutCost = (entries: ActivityStats['byType']) => [...entries].sort(byName).map(({ cost: _cost, ...rest }) => rest)
  expect(withoutCost(actual.byType), `${label}: byType`).toEqual(withoutCost(expected.byType))
  const expectedTypes = [...expected.byType].sort(byName)
  ;[...actual.byType].sort(byName).forEach((entry, index) => {
    expect(entry.cost, `${label}: byType ${entry.activityType} cost`).toBeCloseTo(expectedTypes[index]!.cost, 9)
  })
  if (!expected.buckets) return
  expect(actual.buckets, `${label}: buckets`).toBeDefined()
  type Row = readonly [number, string, number, number, number]
  const normalise = (buckets: NonNullable<ActivityStats['buckets']>): Row[] =>
    buckets
      .filter((bucket) => bucket.count > 0)
      .map((bucket) => [bucket.start === undefined ? NaN : Date.parse(bucket.start), bucket.key ?? '', bucket.count, bucket.tokens, bucket.cost] as const)
  const actualRows = normalise(actual.buckets!)
  if (expected.buckets.some((bucket) => bucket.start !== undefined)) {
    const starts = actualRows.map(([start]) => start)
    expect(starts, `${label}: buckets are oldest first`).toEqual([...starts].sort((a, b) => a - b))
  } else {
    const bucketCounts = actualRows.map(([, , count]) => count)
    expect(bucketCounts, `${label}: buckets are largest first`).toEqual([...bucketCounts].sort((a, b) => b - a))
  }
  const byStartAndKey = (a: Row, b: Row) => (a[0] - b[0] || 0) || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)
  const sortedActual = [...actualRows].sort(byStartAndKey)
  const sortedExpected = normalise(expected.buckets).sort(byStartAndKey)
  expect(sortedActual.map(([start, key, count, tokens]) => [start, key, count, tokens]), `${label}: buckets`).toEqual(
    sortedExpected.map(([start, key, count, tokens]) => [start, key, count, tokens]),
  )
  sortedActual.forEach(([, key, , , cost], index) => {
    expect(cost, `${label}: bucket ${key} cost`).toBeCloseTo(sortedExpected[index]![4], 9)
  })
}

async function write(store: Store, rows: readonly Activity[], batchSize = 100): Promise<void> {
  for (let start = 0; start < rows.length; start += batchSize) {
    const result = await store.sink.write(rows.slice(start, start + batchSize), { signal: new AbortController().signal })
    expect(result.type, 'sink.write result').toBe('success')
  }
}

/** Closes the store (stopping its background work), then drops what the fixture created. */
async function dispose(fixture: StoreFixture | undefined): Promise<void> {
  if (!fixture) return
  try {
    await fixture.store.close?.()
  } finally {
    await fixture.cleanup()
  }
}

function withoutReceivedAt(row: Activity): Activity {
  const { receivedAt: _receivedAt, ...rest } = row
  return rest
}

/**
 * Registers the store conformance tests under `describe(name)`. `createStore` is called for each
 * group of tests and must resolve to an empty store, made with the options it is given;
 * `cleanup` is called once the group is done.
 *
 * @param name - names the store in the test report.
 * @param createStore - makes a new, empty store (its own table, its own in-memory state, …) with
 *   `options` (retention, for the retention tests).
 */
export function describeStoreConformance(name: string, createStore: (options?: StoreFixtureOptions) => Promise<StoreFixture>): void {
  describe(`${name}: store conformance`, () => {
    describe('reads', () => {
      let fixture: StoreFixture
      const rows = dataset(240, 42)
      const at = (hours: number) => new Date(BASE_MS + hours * HOUR)
      const filters: { label: string; filter: ActivityFilter }[] = [
        { label: 'no filter', filter: {} },
        { label: 'userId', filter: { userId: 'u1' } },
        { label: 'unknown userId', filter: { userId: 'nobody' } },
        { label: 'one activityType', filter: { activityType: 'page_view' } },
        { label: 'several activityTypes', filter: { activityType: ['click', 'deleted'] } },
        { label: 'from (inclusive, ISO string)', filter: { from: at(30).toISOString() } },
        { label: 'to (exclusive, Date)', filter: { to: at(30) } },
        { label: 'from and to', filter: { from: at(10), to: at(20).toISOString() } },
        { label: 'minTokens', filter: { minTokens: 500 } },
        { label: 'maxTokens', filter: { maxTokens: 500 } },
        { label: 'minTokens 0 drops rows without tokens', filter: { minTokens: 0 } },
        { label: 'token range', filter: { minTokens: 150, maxTokens: 800 } },
        { label: 'status', filter: { status: 'error' } },
        { label: 'anonymousId', filter: { anonymousId: 'anon-3' } },
        { label: 'sessionId', filter: { sessionId: 's-4' } },
        { label: 'receivedFrom (inclusive)', filter: { receivedFrom: at(30) } },
        { label: 'receivedTo (exclusive, ISO string)', filter: { receivedTo: at(30).toISOString() } },
        { label: 'received and acted windows together', filter: { from: at(10), to: at(40), receivedFrom: at(14), receivedTo: at(41) } },
        {
          label: 'everything at once',
          filter: { userId: 'u2', activityType: ['job_match', 'resume_generation', 'click'], from: at(6), to: at(66), minTokens: 100 },
        },
      ]

      beforeAll(async () => {
        fixture = await createStore()
        await write(fixture.store, rows, 37)
      })
      afterAll(async () => {
        await dispose(fixture)
      })

      it('reads back every field it was given', async () => {
        const { items } = await listAll(fixture.store, { limit: 1000 })
        const byId = new Map(items.map((row) => [row.id, row]))
        for (const row of rows) expect(byId.get(row.id)).toEqual(row)
      })

      it('defaults to the newest 50, by timestamp', async () => {
        const page = await fixture.store.list()
        expect(page.items).toHaveLength(50)
        expectSameOrder(page.items, referenceSort(rows, 'timestamp', 'desc').slice(0, 50), 'timestamp', 'default page')
        expect(page.nextCursor).toEqual(expect.any(String))
      })

      it('returns up to 1000 rows in one page, and no cursor on the last page', async () => {
        const page = await fixture.store.list({ limit: 1000 })
        expect(page.items).toHaveLength(rows.length)
        expect(page.nextCursor).toBeUndefined()
        const exact = await fixture.store.list({ limit: rows.length })
        expect(exact.nextCursor).toBeUndefined()
      })

      it('pages one row at a time', async () => {
        const filter = { userId: 'u3', activityType: 'page_view' }
        const { items, pages } = await listAll(fixture.store, { ...filter, limit: 1 })
        const expected = referenceSort(referenceFilter(rows, filter), 'timestamp', 'desc')
        expect(pages).toBe(Math.max(1, expected.length))
        expectSameOrder(items, expected, 'timestamp', 'limit 1')
      })

      for (const { label, filter } of filters) {
        it(`lists with ${label}, every sort and order, through every page`, async () => {
          const selected = referenceFilter(rows, filter)
          for (const sort of ['timestamp', 'durationMs', 'tokens'] as const) {
            for (const order of ['asc', 'desc'] as const) {
              const { items } = await listAll(fixture.store, { ...filter, sort, order, limit: 7 })
              expectSameOrder(items, referenceSort(selected, sort, order), sort, `${label}, ${sort} ${order}`)
            }
          }
          const first = await fixture.store.list({ ...filter, includeTotal: true, limit: 7 })
          expect(first.total, `${label}: includeTotal`).toBe(selected.length)
        })

        it(`computes stats with ${label}`, async () => {
          expectSameStats(await fixture.store.stats(filter), referenceStats(rows, filter), label)
        })
      }

      for (const per of [undefined, 'user', 'visitor', 'activityType', 'page', 'host'] as const) {
        it(`counts 4-hour buckets${per ? ` per ${per}` : ''}, aligned to the epoch, on either time axis`, async () => {
          const queries: StatsQuery[] = [
            { groupBy: { intervalMs: 4 * HOUR, ...(per ? { per } : {}) } },
            { from: at(7), to: at(50), activityType: ['click', 'job_match'], groupBy: { intervalMs: 4 * HOUR, ...(per ? { per } : {}) } },
            { groupBy: { intervalMs: 7 * 60_000, ...(per ? { per } : {}) } },
            { receivedFrom: at(20), groupBy: { intervalMs: 4 * HOUR, on: 'receivedAt', ...(per ? { per } : {}) } },
          ]
          for (const query of queries) {
            const stats = await fixture.store.stats(query)
            expectSameStats(stats, referenceStats(rows, query), JSON.stringify(query))
            for (const bucket of stats.buckets ?? []) {
              expect(Date.parse(bucket.start!) % query.groupBy!.intervalMs!).toBe(0)
            }
          }
        })
        if (per) {
          it(`counts one bucket per ${per} without an interval, largest first`, async () => {
            for (const query of [{ groupBy: { per } }, { userId: 'u2', from: at(12), groupBy: { per } }] as StatsQuery[]) {
              const stats = await fixture.store.stats(query)
              expectSameStats(stats, referenceStats(rows, query), JSON.stringify(query))
              for (const bucket of stats.buckets ?? []) expect(bucket.start, 'no start without an interval').toBeUndefined()
            }
          })
        }
      }

      it('refuses a groupBy without an interval or a key, with a RangeError', async () => {
        await expect(fixture.store.stats({ groupBy: {} })).rejects.toBeInstanceOf(RangeError)
        await expect(fixture.store.stats({ groupBy: { intervalMs: 0 } })).rejects.toBeInstanceOf(RangeError)
      })

      it('pages by offset through every row once, in order, with the total', async () => {
        const filter = { activityType: ['click', 'page_view', 'job_match'] }
        const selected = referenceFilter(rows, filter)
        for (const sort of ['timestamp', 'tokens'] as const) {
          for (const order of ['asc', 'desc'] as const) {
            const items: Activity[] = []
            for (let offset = 0; ; offset += 11) {
              const page = await fixture.store.list({ ...filter, sort, order, limit: 11, offset, includeTotal: true })
              expect(page.total, `${sort} ${order}: total at offset ${offset}`).toBe(selected.length)
              items.push(...page.items)
              if (page.items.length < 11) break
            }
            expectSameOrder(items, referenceSort(selected, sort, order), sort, `offset pages, ${sort} ${order}`)
          }
        }
        const past = await fixture.store.list({ offset: rows.length + 5 })
        expect(past.items).toEqual([])
        expect(past.nextCursor).toBeUndefined()
      })

      it('refuses an offset beyond MAX_LIST_OFFSET, a negative one, or one with a cursor, with a RangeError', async () => {
        const first = await fixture.store.list({ limit: 5 })
        for (const query of [{ offset: MAX_LIST_OFFSET + 1 }, { offset: -1 }, { offset: 1.5 }, { offset: 5, cursor: first.nextCursor! }]) {
          await expect(fixture.store.list(query), JSON.stringify(query)).rejects.toBeInstanceOf(RangeError)
        }
      })

      it('answers stats over nothing with zeros and nulls', async () => {
        const stats = await fixture.store.stats({ userId: 'nobody', groupBy: { intervalMs: HOUR } })
        expect(stats).toMatchObject({
          total: 0,
          uniqueUsers: 0,
          uniqueVisitors: 0,
          sessions: 0,
          tokens: { input: 0, output: 0, total: 0 },
          cost: { total: 0, currency: 'USD', unpriced: 0 },
          duration: { avgMs: null, p50Ms: null, p95Ms: null },
          byType: [],
        })
        expect(stats.buckets ?? []).toEqual([])
      })

      it('exports everything over many pages, oldest first by default', async () => {
        const exported: Activity[] = []
        for await (const row of fixture.store.export({ pageSize: 7 })) exported.push(row)
        expectSameOrder(exported, referenceSort(rows, 'timestamp', 'asc'), 'timestamp', 'export default')
      })

      it('exports with a filter, a sort and an order', async () => {
        const query: ExportQuery = { activityType: ['click', 'page_view'], minTokens: 1, sort: 'tokens', order: 'desc' }
        const exported: Activity[] = []
        for await (const row of fixture.store.export({ ...query, pageSize: 3 })) exported.push(row)
        expectSameOrder(exported, referenceSort(referenceFilter(rows, query), 'tokens', 'desc'), 'tokens', 'export filtered')
        const whole: Activity[] = []
        for await (const row of fixture.store.export({ sort: 'durationMs' })) whole.push(row)
        expectSameOrder(whole, referenceSort(rows, 'durationMs', 'asc'), 'durationMs', 'export default page size')
      })

      it('refuses a cursor it did not issue with a RangeError', async () => {
        for (const cursor of ['not a cursor', '', '%00', "'; DROP TABLE activities; --", 'eyJ4IjoxfQ']) {
          await expect(fixture.store.list({ cursor }), JSON.stringify(cursor)).rejects.toBeInstanceOf(RangeError)
        }
      })
    })

    describe('writes', () => {
      let fixture: StoreFixture
      beforeAll(async () => {
        fixture = await createStore()
      })
      afterAll(async () => {
        await dispose(fixture)
      })

      it('ignores an id it already holds, within a batch and across batches', async () => {
        const rows = dataset(20, 7).map((row) => ({ ...row, userId: 'idempotent' }))
        await write(fixture.store, [...rows, rows[0]!, rows[1]!])
        await write(fixture.store, rows.slice(0, 10).map((row) => ({ ...row, description: 'a retry' })))
        await write(fixture.store, rows)
        const page = await fixture.store.list({ userId: 'idempotent', limit: 100, includeTotal: true })
        expect(page.total).toBe(20)
        expect(page.items.map((row) => row.id).sort()).toEqual(rows.map((row) => row.id).sort())
        expect(page.items.some((row) => row.description === 'a retry')).toBe(false)
      })

      it('stamps receivedAt when absent and keeps it when given', async () => {
        const before = Date.now()
        const stamped: Activity = { id: crypto.randomUUID(), activityType: 'received', timestamp: '2020-01-01T00:00:00.000Z', userId: 'received' }
        const given: Activity = { ...stamped, id: crypto.randomUUID(), receivedAt: '2021-02-03T04:05:06.789Z' }
        await write(fixture.store, [stamped, given])
        const { items } = await fixture.store.list({ userId: 'received' })
        const byId = new Map(items.map((row) => [row.id, row]))
        expect(byId.get(given.id)!.receivedAt).toBe('2021-02-03T04:05:06.789Z')
        const receivedMs = Date.parse(byId.get(stamped.id)!.receivedAt!)
        // Allow for a database clock a little apart from this process's.
        expect(receivedMs).toBeGreaterThanOrEqual(before - 60_000)
        expect(receivedMs).toBeLessThanOrEqual(Date.now() + 60_000)
      })

      it('round-trips hostile strings in every field, and filters by them exactly', async () => {
        const rows: Activity[] = HOSTILE_STRINGS.map((text, index) => ({
          id: crypto.randomUUID(),
          activityType: text.slice(0, 200),
          timestamp: new Date(BASE_MS + index * 1000).toISOString(),
          userId: text.slice(0, 256),
          sessionId: text.slice(0, 256),
          description: text,
          error: text,
          status: 'error',
          tokenUsage: { input: 1, output: 2, total: 3, model: text },
          context: { page: text, userAgent: text, [text.slice(0, 100)]: text },
          metadata: { text, list: [text, { [text.slice(0, 50)]: text }], ['__proto__']: { polluted: true } },
        }))
        await write(fixture.store, rows, 4)
        for (const row of rows) {
          const byUser = await fixture.store.list({ userId: row.userId! })
          expect(byUser.items.map(withoutReceivedAt), JSON.stringify(row.userId!.slice(0, 40))).toEqual([row])
          const byType = await fixture.store.list({ activityType: row.activityType, userId: row.userId! })
          expect(byType.items.map((item) => item.id)).toEqual([row.id])
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
        const stats = await fixture.store.stats({ userId: HOSTILE_STRINGS[0]! })
        expect(stats.byType).toEqual([{ activityType: HOSTILE_STRINGS[0], count: 1, tokens: 3, cost: 0 }])
      })

      it('keeps a cursor stable while rows are inserted', async () => {
        const original = dataset(60, 11).map((row) => ({ ...row, userId: 'stable' }))
        await write(fixture.store, original)
        for (const sort of ['timestamp', 'tokens'] as const) {
          const seen: Activity[] = []
          let page = await fixture.store.list({ userId: 'stable', sort, limit: 9 })
          seen.push(...page.items)
          let round = 0
          while (page.nextCursor) {
            // Newer, older and tied rows land on both sides of the cursor between page requests.
            const inserted = dataset(3, 100 + round++).map((row, index) => ({
              ...row,
              userId: 'stable',
              timestamp: index === 0 ? original[round % original.length]!.timestamp : row.timestamp,
            }))
            await write(fixture.store, inserted)
            page = await fixture.store.list({ userId: 'stable', sort, limit: 9, cursor: page.nextCursor })
            seen.push(...page.items)
          }
          const ids = seen.map((row) => row.id)
          expect(new Set(ids).size, `${sort}: no row twice`).toBe(ids.length)
          const seenIds = new Set(ids)
          for (const row of original) expect(seenIds.has(row.id), `${sort}: every original row`).toBe(true)
          const keys = seen.map((row) => sortKey(row, sort))
          const present = keys.filter((key): key is number => key !== null)
          expect(present, `${sort}: still in order`).toEqual([...present].sort((a, b) => b - a))
        }
      })

      it('pushes new matching activities to subscribers, when it can', async () => {
        if (!fixture.store.subscribe) return
        const received: Activity[] = []
        const control: Activity[] = []
        const unsubscribe = fixture.store.subscribe({ userId: 'subscriber' }, (activities) => received.push(...activities))
        const stopControl = fixture.store.subscribe({ userId: 'subscriber' }, (activities) => control.push(...activities))
        const [mine, other, again] = dataset(3, 5)
        await write(fixture.store, [{ ...mine!, userId: 'subscriber' }, { ...other!, userId: 'someone else' }])
        await expect.poll(() => received.map((row) => row.id), { timeout: 15_000 }).toEqual([mine!.id])
        await write(fixture.store, [{ ...mine!, userId: 'subscriber' }])
        unsubscribe()
        await write(fixture.store, [{ ...again!, userId: 'subscriber' }])
        // The subscriber still listening hears `again`: by then the one that left would have too.
        await expect.poll(() => control.map((row) => row.id), { timeout: 15_000 }).toEqual([mine!.id, again!.id])
        stopControl()
        expect(received.map((row) => row.id)).toEqual([mine!.id])
      })
    })

    describe('identity and deletion', () => {
      let fixture: StoreFixture
      beforeAll(async () => {
        fixture = await createStore()
      })
      afterAll(async () => {
        await dispose(fixture)
      })
      const activity = (fields: Partial<Activity>, hoursAgo = 2): Activity => ({
        id: crypto.randomUUID(),
        activityType: 'page_visit',
        timestamp: new Date(Date.now() - hoursAgo * HOUR).toISOString(),
        ...fields,
      })
      const ids = (items: Activity[]) => items.map((row) => row.id).sort()

      it('implements identify and deleteActivities', () => {
        expect(typeof fixture.store.identify, 'identify').toBe('function')
        expect(typeof fixture.store.deleteActivities, 'deleteActivities').toBe('function')
      })

      it('attributes what an anonymous visitor did before signing in, and after, to the user', async () => {
        const before = [activity({ anonymousId: 'visitor-a' }, 3), activity({ anonymousId: 'visitor-a', sessionId: 'sa' }, 2)]
        const stranger = activity({ anonymousId: 'visitor-b' })
        const signedIn = activity({ anonymousId: 'visitor-a', userId: 'person-a' }, 1)
        await write(fixture.store, [...before, stranger, signedIn])
        expect(await fixture.store.identify!({ userId: 'person-a', anonymousId: 'visitor-a' })).toEqual({ linked: 2 })
        expect(await fixture.store.identify!({ userId: 'person-a', anonymousId: 'visitor-a' }), 'a second call links nothing new').toEqual({ linked: 0 })
        const later = activity({ anonymousId: 'visitor-a' }, 0.5)
        await write(fixture.store, [later])
        const mine = await fixture.store.list({ userId: 'person-a', limit: 100 })
        expect(ids(mine.items)).toEqual(ids([...before, signedIn, later]))
        for (const row of mine.items) expect(row.anonymousId, 'the anonymous id is kept').toBe('visitor-a')
        const byVisitor = await fixture.store.list({ anonymousId: 'visitor-a', limit: 100 })
        expect(ids(byVisitor.items)).toEqual(ids([...before, signedIn, later]))
        const stats = await fixture.store.stats({ anonymousId: 'visitor-a' })
        expect(stats).toMatchObject({ total: 4, uniqueUsers: 1, uniqueVisitors: 1 })
        const strangers = await fixture.store.list({ anonymousId: 'visitor-b' })
        expect(strangers.items.map((row) => row.userId)).toEqual([undefined])
      })

      it('deletes one user, their linked visitor id, and nobody else', async () => {
        const kept = activity({ userId: 'person-keep' })
        const gone = [activity({ userId: 'person-gone' }), activity({ userId: 'person-gone', tokenUsage: { total: 5 } }), activity({ anonymousId: 'visitor-gone' })]
        await write(fixture.store, [kept, ...gone])
        await fixture.store.identify!({ userId: 'person-gone', anonymousId: 'visitor-gone' })
        expect(await fixture.store.deleteActivities!({ userId: 'person-gone' })).toEqual({ deleted: 3 })
        expect((await fixture.store.list({ userId: 'person-gone' })).items).toEqual([])
        expect((await fixture.store.list({ anonymousId: 'visitor-gone' })).items).toEqual([])
        expect((await fixture.store.stats({ userId: 'person-gone' })).total).toBe(0)
        const exported: Activity[] = []
        for await (const row of fixture.store.export({})) exported.push(row)
        expect(exported.some((row) => row.userId === 'person-gone' || row.anonymousId === 'visitor-gone')).toBe(false)
        expect(ids((await fixture.store.list({ userId: 'person-keep' })).items)).toEqual([kept.id])
        expect(await fixture.store.deleteActivities!({ userId: 'person-gone' }), 'deleting again finds nothing').toEqual({ deleted: 0 })
      })

      it('refuses a late delivery of what a deleted person did before the deletion, and stores what they do after', async () => {
        await write(fixture.store, [activity({ userId: 'person-late' })])
        await fixture.store.identify!({ userId: 'person-late', anonymousId: 'visitor-late' })
        await fixture.store.deleteActivities!({ userId: 'person-late' })
        const queued = activity({ userId: 'person-late' }, 1)
        const queuedAnonymously = activity({ anonymousId: 'visitor-late' }, 1)
        const afterwards = activity({ userId: 'person-late' }, -0.1)
        const result = await fixture.store.sink.write([queued, queuedAnonymously, afterwards], { signal: new AbortController().signal })
        expect(result.type).toBe('success')
        const rejected = result.type === 'success' ? (result.rejected ?? []).map((item) => item.id).sort() : []
        expect(rejected).toEqual([queued.id, queuedAnonymously.id].sort())
        expect(ids((await fixture.store.list({ userId: 'person-late' })).items)).toEqual([afterwards.id])
        expect((await fixture.store.list({ anonymousId: 'visitor-late' })).items).toEqual([])
      })

      it('deletes one anonymous visitor', async () => {
        const rows = [activity({ anonymousId: 'visitor-c' }), activity({ anonymousId: 'visitor-c', sessionId: 's' }), activity({ anonymousId: 'visitor-d' })]
        await write(fixture.store, rows)
        expect(await fixture.store.deleteActivities!({ anonymousId: 'visitor-c' })).toEqual({ deleted: 2 })
        expect((await fixture.store.list({ anonymousId: 'visitor-c' })).items).toEqual([])
        expect((await fixture.store.list({ anonymousId: 'visitor-d' })).items).toHaveLength(1)
      })

      it('refuses a subject that is not exactly one non-empty id, with a TypeError', async () => {
        for (const subject of [{}, { userId: '' }, { anonymousId: '' }, { userId: 'a', anonymousId: 'b' }]) {
          await expect(fixture.store.deleteActivities!(subject as never), JSON.stringify(subject)).rejects.toBeInstanceOf(TypeError)
        }
        await expect(fixture.store.identify!({ userId: '', anonymousId: 'x' })).rejects.toBeInstanceOf(TypeError)
      })
    })

    describe('retention', () => {
      const DAY = 24 * HOUR
      const daysAgo = (days: number) => new Date(Date.now() - days * DAY).toISOString()
      const row = (fields: Partial<Activity> & { timestamp: string }): Activity => ({
        id: crypto.randomUUID(),
        activityType: 'retention',
        userId: 'retained',
        ...fields,
      })
      /** Expired under `maxAgeDays: 30` by any reading of the rule: months past it, by one clock or the other. */
      const expiredRows = () => [
        // Received long ago: a recent `timestamp` (a client's clock, or a forged one) does not keep it.
        row({ timestamp: daysAgo(0.1), receivedAt: daysAgo(400) }),
        row({ timestamp: '2099-01-01T00:00:00.000Z', receivedAt: daysAgo(400) }),
        // Done long ago, received just now (a device that was offline, an import): already too old.
        row({ timestamp: daysAgo(400) }),
      ]
      const keptRows = () => [
        row({ timestamp: daysAgo(20), receivedAt: daysAgo(20) }),
        row({ timestamp: daysAgo(1) }),
        row({ timestamp: daysAgo(-2) }),
      ]
      const storedIds = async (store: Store) => (await listAll(store, { userId: 'retained', limit: 1000 })).items.map((item) => item.id).sort()
      const fixtures: StoreFixture[] = []
      const open = async (options?: StoreFixtureOptions) => {
        const fixture = await createStore(options)
        fixtures.push(fixture)
        return fixture
      }
      afterAll(async () => {
        for (const fixture of fixtures.splice(0)) await dispose(fixture)
      })

      it('deletes what is older than maxAgeDays by the earlier of timestamp and receivedAt, and keeps the rest', async () => {
        const { store } = await open({ retention: { maxAgeDays: 30, runInBackground: false } })
        expect(typeof store.expireActivities, 'expireActivities').toBe('function')
        const expired = expiredRows()
        const kept = keptRows()
        await write(store, [...expired, ...kept])
        expect(await store.expireActivities!()).toEqual({ deleted: expired.length })
        expect(await storedIds(store)).toEqual(kept.map((item) => item.id).sort())
        expect((await store.stats({ userId: 'retained' })).total).toBe(kept.length)
        expect(await store.expireActivities!(), 'a second run finds nothing').toEqual({ deleted: 0 })
      })

      it('runs the job by itself every intervalMs until close()', async () => {
        const fixture = await open({ retention: { maxAgeDays: 30, intervalMs: 50 } })
        const kept = keptRows()
        await write(fixture.store, [...expiredRows(), ...kept])
        await expect.poll(() => storedIds(fixture.store), { timeout: 30_000, interval: 100 }).toEqual(kept.map((item) => item.id).sort())
        await fixture.store.close?.()
      })

      it('refuses expireActivities without a retention option, with a TypeError', async () => {
        const { store } = await open()
        await expect(store.expireActivities!()).rejects.toBeInstanceOf(TypeError)
      })
    })
  })
}
