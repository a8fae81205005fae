/**
 * `prepareStatements`: the sink's statements are kept prepared on the connection (node-postgres
 * named statements, postgres.js `prepare: true`), reads are not, and what is stored and refused is
 * the same as without it. On the PostgreSQL server (both drivers need one).
 */
import pg from 'pg'
import postgres from 'postgres'
import { afterAll, describe, expect, it } from 'vitest'
import type { Activity } from '@usertracking/core'
import { activity, signal, withoutReceivedAt } from '../test/activities'
import { serverAvailable, serverUrl, uniqueSchema } from '../test/database'
import { postgresStore, type PostgresClient } from './index'
import { statementName } from './node-postgres'
import { COPY_MIN_ROWS } from './postgres-sink'

const admin = new pg.Pool({ connectionString: serverUrl, max: 2 })
afterAll(async () => {
  await admin.end()
})

interface OneConnection {
  client: PostgresClient
  /** The statements prepared on that one connection, by name and text. */
  prepared(): Promise<{ name: string; statement: string }[]>
  close(): Promise<void>
}

const drivers: { name: string; open(): Promise<OneConnection> }[] = [
  {
    name: 'node-postgres Pool',
    open: async () => {
      // One connection, so the statements it prepared are the ones pg_prepared_statements shows.
      const pool = new pg.Pool({ connectionString: serverUrl, max: 1 })
      return {
        client: pool,
        prepared: async () => (await pool.query('SELECT name, statement FROM pg_prepared_statements')).rows,
        close: () => pool.end(),
      }
    },
  },
  {
    name: 'node-postgres Client',
    open: async () => {
      const client = new pg.Client({ connectionString: serverUrl })
      await client.connect()
      return {
        client,
        prepared: async () => (await client.query('SELECT name, statement FROM pg_prepared_statements')).rows,
        close: () => client.end(),
      }
    },
  },
  {
    name: 'postgres.js',
    open: async () => {
      const sql = postgres(serverUrl, { max: 1, onnotice: () => {} })
      return {
        client: sql,
        prepared: async () => [...(await sql.unsafe<{ name: string; statement: string }[]>('SELECT name, statement FROM pg_prepared_statements'))],
        close: () => sql.end({ timeout: 1 }),
      }
    },
  },
]

/** The same writes, through a store with and one without `prepareStatements`: a retry, a deleted person, a linked visitor, a refused row. */
async function writeStory(client: PostgresClient, schema: string, prepareStatements: boolean) {
  const store = postgresStore({ client, schema, prepareStatements, notify: false })
  await store.migrate()
  const at = (second: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, second)).toISOString()
  const results = []
  const first: Activity[] = [
    activity({ id: '0190a000-0000-7000-8000-000000000001', userId: 'kept', timestamp: at(1) }),
    activity({ id: '0190a000-0000-7000-8000-000000000002', userId: 'gone', timestamp: at(2) }),
  ]
  results.push(await store.sink.write(first, { signal }))
  // A retry of the same batch: stored once.
  results.push(await store.sink.write(first, { signal }))
  await store.deleteActivities({ userId: 'gone' })
  await store.identify({ anonymousId: 'visitor', userId: 'kept' })
  results.push(
    await store.sink.write(
      [
        // Tracked before the deletion: refused.
        activity({ id: '0190a000-0000-7000-8000-000000000003', userId: 'gone', timestamp: at(3) }),
        // The linked visitor's activity gets its user.
        activity({ id: '0190a000-0000-7000-8000-000000000004', userId: undefined, anonymousId: 'visitor', timestamp: at(4) }),
        // Out of range: refused alone.
        activity({ id: '0190a000-0000-7000-8000-000000000005', timestamp: '-010000-01-01T00:00:00.000Z' }),
      ],
      { signal },
    ),
  )
  // A batch large enough for the COPY path, after its rows were stored once by the small path.
  const many = Array.from({ length: COPY_MIN_ROWS + 4 }, (_, index) =>
    activity({ id: `0190a000-0000-7000-8000-0000000001${String(index).padStart(2, '0')}`, userId: index % 2 ? 'kept' : 'gone', timestamp: at(10 + index) }),
  )
  results.push(await store.sink.write(many.slice(0, 3), { signal }))
  results.push(await store.sink.write(many, { signal }))
  const { items } = await store.list({ sort: 'timestamp', order: 'asc', limit: 100 })
  // Refused rows come back in no particular order from the one-statement path, with or without.
  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id)
  const sorted = results.map((result) => (result.type === 'success' && result.rejected ? { ...result, rejected: [...result.rejected].sort(byId) } : result))
  return { results: sorted, items: items.map(withoutReceivedAt) }
}

it('takes prepareStatements only as a boolean', () => {
  expect(() => postgresStore({ client: admin, prepareStatements: 'yes' as unknown as boolean })).toThrow(/prepareStatements must be true or false/)
})

it('names two texts apart and one text alike, within PostgreSQL’s 63-byte limit', () => {
  const long = 'SELECT 1'.repeat(1000)
  // Pinned: every copy of the package (ESM, CJS, another version) sharing a pool must name a text alike.
  expect(statementName('SELECT 1')).toBe('usertracking_df6zq4p4vq')
  expect(statementName(long)).toBe('usertracking_1085b2zrrcf')
  expect(statementName(long)).not.toBe(statementName(`${long} `))
  expect(statementName(long).length).toBeLessThanOrEqual(63)
})

describe.skipIf(!serverAvailable)('prepareStatements', () => {
  for (const driver of drivers) {
    it(`prepares the sink's statements over ${driver.name}, never a read, and stores and refuses exactly what it does without`, async () => {
      const withPrepared = await driver.open()
      const without = await driver.open()
      const schemas = [uniqueSchema('prepared'), uniqueSchema('unprepared')]
      try {
        const prepared = await writeStory(withPrepared.client, schemas[0]!, true)
        const unprepared = await writeStory(without.client, schemas[1]!, false)
        expect(prepared).toEqual(unprepared)
        expect(prepared.results[2]).toMatchObject({ type: 'success', rejected: [{ id: '0190a000-0000-7000-8000-000000000003' }, { id: '0190a000-0000-7000-8000-000000000005' }] })

        const statements = await withPrepared.prepared()
        const ours = statements.filter((each) => each.statement.includes(`"${schemas[0]}"`))
        // The small batch's call of the ingest function, and over node-postgres the large batch's
        // screening query (postgres.js has no COPY: every batch of it is that one call).
        expect(ours.length).toBeGreaterThanOrEqual(driver.name === 'postgres.js' ? 1 : 2)
        expect(ours.some((each) => /user_activities_ingest"\(/.test(each.statement))).toBe(true)
        expect(ours.every((each) => !/LIMIT/.test(each.statement))).toBe(true)
        if (driver.name.startsWith('node-postgres')) {
          expect(ours.map((each) => each.name)).toEqual(ours.map((each) => statementName(each.statement)))
        }
        expect((await without.prepared()).filter((each) => each.statement.includes(`"${schemas[1]}"`))).toEqual([])
      } finally {
        for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
        await withPrepared.close()
        await without.close()
      }
    })
  }
})
