import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PGlite } from '@electric-sql/pglite'
import { postgresStore } from '@usertracking/postgres'
import { toNodeListener } from '@usertracking/server'
import { createSite, type Site } from '../src/site'

/** The admin password the tests sign in with. */
export const ADMIN_PASSWORD = 'correct horse battery staple'

/** The site on 127.0.0.1 over its own schema of a PGlite database. */
export interface RunningSite {
  url: string
  /** Store failures and unexpected errors the site reported. */
  errors: unknown[]
  close(): Promise<void>
}

let schemas = 0

/**
 * Starts the site over a fresh schema of `database` (one PGlite per test file: it takes seconds to
 * start), with the tracking script's batches going out 50 ms after the last activity.
 */
export async function startSite(database: PGlite): Promise<RunningSite> {
  const schema = `site_${process.pid}_${++schemas}`
  const store = postgresStore({ client: database, schema })
  await store.migrate()
  const errors: unknown[] = []
  const site: Site = await createSite({ store, adminPassword: ADMIN_PASSWORD, tracking: { debounceTime: 50 }, onError: (error) => errors.push(error) })
  const server: Server = createServer(toNodeListener(site))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    errors,
    async close() {
      site.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await database.exec(`DROP SCHEMA "${schema}" CASCADE`)
    },
  }
}

/** Signs in through the login form as a browser would, and returns the session cookie. */
export async function adminCookie(url: string, password = ADMIN_PASSWORD): Promise<string | undefined> {
  const response = await fetch(`${url}/admin/login`, {
    method: 'POST',
    body: new URLSearchParams({ username: 'admin', password }),
    redirect: 'manual',
  })
  return response.headers.get('set-cookie')?.split(';')[0]
}
