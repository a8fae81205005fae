import pg from 'pg'

/**
 * The PostgreSQL server tests use: DATABASE_URL, or the one CI and this machine run. Shared by
 * every package whose tests need a real server (imported by relative path); nothing here runs on import.
 */
export const serverUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'

/**
 * Whether a PostgreSQL server answers at `url` (within 2 s). When none does, the tests that need it
 * say loudly that they did not run; under CI a missing server fails instead.
 *
 * @param who - the package, and the tests that do not run without a server, for those messages.
 */
export async function postgresAnswers(url: string, who: { package: string; tests: string }): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    return true
  } catch {
    if (process.env.CI) throw new Error(`[usertracking] [${who.package}] CI=true but no PostgreSQL server answers at ${url}.`)
    console.warn(`\n*** [usertracking] [${who.package}] DID NOT RUN ${who.tests}: no PostgreSQL server at ${url}. Set DATABASE_URL or start PostgreSQL to run them. ***\n`)
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

let counter = 0

/** A schema name no other test (or parallel test file) uses. */
export function uniqueSchema(prefix = 'ut'): string {
  counter += 1
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`
}
