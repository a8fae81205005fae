import { readFileSync } from 'node:fs'
import type { ActivityFilter, ActivitySortKey } from '@usertracking/core'
import { describe, expect, it } from 'vitest'
import { planQueries, type QueryPlan } from './query-plan'

interface IndexField {
  fieldPath: string
  order?: 'ASCENDING' | 'DESCENDING'
}
interface IndexFile {
  indexes: { collectionGroup: string; queryScope: 'COLLECTION' | 'COLLECTION_GROUP'; fields: IndexField[] }[]
  fieldOverrides: { collectionGroup: string; fieldPath: string; ttl?: boolean; indexes: { order?: string; queryScope: string }[] }[]
}

const shipped = JSON.parse(readFileSync(new URL('../firestore.indexes.json', import.meta.url), 'utf8')) as IndexFile
const layout = { collection: 'user-activities', subcollection: 'activities' }

const ORDER = { asc: 'ASCENDING', desc: 'DESCENDING' } as const

/**
 * The index Firestore needs for a plan, by its documented rules: equality filters first (in any
 * order), then the field ordered on, in the query's direction. A query on one field alone is served
 * by that field's single-field index: automatic in collection scope, declared in `fieldOverrides`
 * for collection group scope.
 */
function requirement(plan: QueryPlan): { scope: 'COLLECTION' | 'COLLECTION_GROUP'; equality?: string; field: string; order: string } {
  const scope = 'collection' in plan.scope ? 'COLLECTION' : 'COLLECTION_GROUP'
  // In the null phase the ordered field is an equality (== null) ordered by name ascending: an
  // ascending index on it serves that.
  const order = plan.nullsOnly ? 'ASCENDING' : ORDER[plan.direction]
  return { scope, ...(plan.equality ? { equality: plan.equality.field } : {}), field: plan.orderBy, order }
}

function covered(need: ReturnType<typeof requirement>): string | undefined {
  if (need.equality === undefined) {
    if (need.scope === 'COLLECTION') return 'single-field (automatic)'
    const override = shipped.fieldOverrides.find(
      (entry) => entry.fieldPath === need.field && entry.indexes.some((index) => index.queryScope === 'COLLECTION_GROUP' && index.order === need.order),
    )
    return override && `fieldOverrides ${need.field}`
  }
  const index = shipped.indexes.find(
    (entry) =>
      entry.collectionGroup === 'activities' &&
      entry.queryScope === need.scope &&
      entry.fields.length === 2 &&
      entry.fields[0]!.fieldPath === need.equality &&
      entry.fields[1]!.fieldPath === need.field &&
      entry.fields[1]!.order === need.order,
  )
  return index && `${need.scope} (${need.equality}, ${need.field} ${need.order})`
}

/** Every filter a list can carry, each in its shapes: one type, several, more than `in` takes. */
const FILTER_PARTS: Record<string, Record<string, unknown>[]> = {
  userId: [{ userId: 'u1' }],
  activityType: [{ activityType: 'click' }, { activityType: ['click', 'job_match'] }, { activityType: Array.from({ length: 31 }, (_, i) => `t${i}`) }],
  status: [{ status: 'error' }],
  sessionId: [{ sessionId: 's1' }],
  anonymousId: [{ anonymousId: 'a1' }],
  time: [{ from: '2025-01-01T00:00:00Z' }, { from: '2025-01-01T00:00:00Z', to: new Date('2025-02-01T00:00:00Z') }],
  tokens: [{ minTokens: 100 }, { maxTokens: 50 }],
}

function* filters(): Generator<ActivityFilter> {
  const parts = Object.values(FILTER_PARTS)
  function* combine(index: number, filter: Record<string, unknown>): Generator<ActivityFilter> {
    if (index === parts.length) {
      yield filter as ActivityFilter
      return
    }
    yield* combine(index + 1, filter)
    for (const part of parts[index]!) yield* combine(index + 1, { ...filter, ...part })
  }
  yield* combine(0, {})
}

describe('firestore.indexes.json', () => {
  it('covers every query list, export, stats and includeTotal issue, from the first page and from a cursor', () => {
    const used = new Set<string>()
    let plans = 0
    for (const filter of filters()) {
      for (const sort of ['timestamp', 'durationMs', 'tokens'] as ActivitySortKey[]) {
        for (const order of ['asc', 'desc'] as const) {
          const cursorPath = `user-activities/${filter.userId ?? 'u9'}/activities/x`
          const cursors = [undefined, { value: 5, path: cursorPath }, ...(sort === 'timestamp' ? [] : [{ value: null, path: cursorPath }])]
          for (const cursor of cursors) {
            for (const plan of planQueries(layout, filter, sort, order, cursor)) {
              plans++
              const need = requirement(plan)
              const by = covered(need)
              expect(by, `${JSON.stringify(filter)} ${sort} ${order} needs ${JSON.stringify(need)}`).toBeDefined()
              used.add(by!)
            }
          }
        }
      }
    }
    expect(plans).toBeGreaterThan(5000)
    // No index is shipped that no query uses: each one costs storage and write time per activity.
    for (const index of shipped.indexes) {
      const [equality, field] = index.fields
      expect(used, JSON.stringify(index)).toContain(`${index.queryScope} (${equality!.fieldPath}, ${field!.fieldPath} ${field!.order})`)
    }
  })

  it('declares the collection group single-field index subscribe listens on (storedAt)', () => {
    const override = shipped.fieldOverrides.find((entry) => entry.fieldPath === 'storedAt')
    expect(override?.indexes).toContainEqual({ order: 'ASCENDING', queryScope: 'COLLECTION_GROUP' })
    // An override replaces the automatic indexes of its field, so it must keep collection scope too.
    for (const entry of shipped.fieldOverrides.filter((item) => item.indexes.length > 0)) {
      expect(entry.indexes, entry.fieldPath).toContainEqual({ order: 'ASCENDING', queryScope: 'COLLECTION' })
      expect(entry.indexes, entry.fieldPath).toContainEqual({ order: 'DESCENDING', queryScope: 'COLLECTION' })
    }
  })
})

describe('the indexes retention needs', () => {
  it('covers its queries: expired activities across users by timestamp and receivedAt, tombstones by expireAt', () => {
    for (const field of ['timestamp', 'receivedAt']) {
      expect(covered({ scope: 'COLLECTION_GROUP', field, order: 'ASCENDING' }), field).toBeDefined()
    }
    const tombstones = shipped.fieldOverrides.find((entry) => entry.collectionGroup === 'user-activities-tombstones' && entry.fieldPath === 'expireAt')
    expect(tombstones?.indexes).toContainEqual({ order: 'ASCENDING', queryScope: 'COLLECTION' })
  })

  it('turns TTL policies on for expireAt, of activities and of tombstones', () => {
    for (const group of ['activities', 'user-activities-tombstones']) {
      expect(shipped.fieldOverrides.find((entry) => entry.collectionGroup === group && entry.fieldPath === 'expireAt')?.ttl, group).toBe(true)
    }
  })
})
