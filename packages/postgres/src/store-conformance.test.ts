import { afterAll } from 'vitest'
import { describeStoreConformance } from '@usertracking/testkit'
import { openTestDatabase, uniqueSchema, type TestDatabase } from '../test/database'
import { postgresStore } from './index'

let database: Promise<TestDatabase> | undefined
const open = () => (database ??= openTestDatabase())

afterAll(async () => {
  await (await database)?.close()
})

const where = process.env.DATABASE_URL ? 'server' : 'PGlite'

for (const partitioning of [undefined, 'monthly'] as const) {
  describeStoreConformance(`postgres (${where}${partitioning ? ', monthly partitions' : ''})`, async (options) => {
    const db = await open()
    const schema = uniqueSchema('conformance')
    const store = postgresStore({ client: db.client, schema, partitioning, ...options })
    await store.migrate()
    return {
      store,
      cleanup: async () => {
        await db.query(`DROP SCHEMA "${schema}" CASCADE`)
      },
    }
  })
}
