import { afterAll } from 'vitest'
import { describeStoreConformance } from '@usertracking/testkit'
import { openTestDatabase, uniqueSchema, type TestDatabase } from '../test/database'
import { postgresStore } from './index'

let database: Promise<TestDatabase> | undefined
const open = () => (database ??= openTestDatabase())

afterAll(async () => {
  await (await database)?.close()
})

describeStoreConformance(process.env.DATABASE_URL ? 'postgres (server)' : 'postgres (PGlite)', async () => {
  const db = await open()
  const schema = uniqueSchema('conformance')
  const store = postgresStore({ client: db.client, schema })
  await store.migrate()
  return {
    store,
    cleanup: async () => {
      await db.query(`DROP SCHEMA "${schema}" CASCADE`)
    },
  }
})
