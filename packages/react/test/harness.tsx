import { createActivityClient, type ActivityClient, type ActivityClientOptions } from '@usertracking/client'
import { cleanup, configure, render, type RenderResult } from '@testing-library/react'
import { EventSource } from 'eventsource'
import type { ReactNode } from 'react'
import { afterEach } from 'vitest'
import { ActivityProvider } from '../src/context'
import { startActivityServer, stores, type ActivityServer, type StoreUnderTest } from '../../client/test/activity-server'

export { eventually, stores } from '../../client/test/activity-server'

// Waits end on what the user would see; the ceiling only bounds a failing test on a loaded machine.
configure({ asyncUtilTimeout: 15_000 })

afterEach(() => {
  cleanup()
  window.history.replaceState(null, '', '/')
})

/** The real server handler on 127.0.0.1 over a real store, and clients signed in as its users. */
export interface Backend {
  server: ActivityServer
  /** The store itself, for rows only a tracker writes (such as a priced `cost`, which ingest does not accept from clients). */
  store: StoreUnderTest['store']
  /** A client whose requests carry `Bearer <user>` (`admin` reads everyone's rows). */
  clientFor(user: string, options?: ActivityClientOptions): ActivityClient
  close(): Promise<void>
}

export async function startBackend(open: () => Promise<StoreUnderTest> = stores[0]!.open): Promise<Backend> {
  const opened = await open()
  const server = await startActivityServer(opened.store)
  return {
    server,
    store: opened.store,
    clientFor: (user, options) =>
      createActivityClient({ baseUrl: server.baseUrl, headers: { authorization: `Bearer ${user}` }, EventSource, live: { reconnectBaseMs: 10 }, ...options }),
    async close() {
      await server.close()
      await opened.close()
    },
  }
}

/** Renders inside an {@link ActivityProvider} with a fixed locale and time zone, so text is stable. */
export function renderWith(client: ActivityClient, ui: ReactNode): RenderResult {
  return render(
    <ActivityProvider client={client} locale="en-US" timeZone="UTC">
      {ui}
    </ActivityProvider>,
  )
}

/** A wrapper for `renderHook`. */
export function providerFor(client: ActivityClient) {
  return ({ children }: { children: ReactNode }) => (
    <ActivityProvider client={client} locale="en-US" timeZone="UTC">
      {children}
    </ActivityProvider>
  )
}

/** The links the component has the browser download, caught before the browser follows them. */
export async function downloadsOf(act: () => Promise<void>): Promise<{ href: string; download: string }[]> {
  const downloads: { href: string; download: string }[] = []
  const onClick = (event: MouseEvent) => {
    const link = event.target as HTMLAnchorElement
    if (link.tagName === 'A' && link.download) {
      event.preventDefault()
      downloads.push({ href: link.href, download: link.download })
    }
  }
  document.addEventListener('click', onClick, true)
  try {
    await act()
  } finally {
    document.removeEventListener('click', onClick, true)
  }
  return downloads
}
