import { memoryStore, type Store } from '@usertracking/core'
import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderWith, startBackend, type Backend } from '../test/harness'
import { ActivityTable } from './activity-table'
import { useActivities } from './use-activities'

/** The memory store, with reads that fail while `failing` is set: a database outage, as the server sees it. */
let failing = false
const inner = memoryStore()
const flaky: Store = {
  ...inner,
  name: 'flaky',
  sink: inner.sink,
  list: (query) => (failing ? Promise.reject(new Error('connection refused')) : inner.list(query)),
  stats: (query) => inner.stats(query),
  export: (query) => inner.export(query),
}

let backend: Backend
beforeAll(async () => {
  backend = await startBackend(async () => ({ store: flaky, close: async () => {} }))
  await backend.server.ingest([
    { userId: 'ana', activityType: 'page_visit', timestamp: '2025-07-01T10:00:00Z' },
    { userId: 'ben', activityType: 'form_submit', timestamp: '2025-07-01T11:00:00Z', status: 'error', error: 'invalid email' },
  ])
})
afterAll(() => backend.close())

function Table({ showUser = false }: { showUser?: boolean }) {
  return <ActivityTable activities={useActivities({}, { live: false })} showUser={showUser} onViewDetails={() => {}} emptyMessage="Nothing tracked yet." />
}

describe('ActivityTable', () => {
  it('is busy while loading, then lists rows with their headers', async () => {
    renderWith(backend.clientFor('admin'), <Table showUser />)
    expect(screen.getByRole('table').getAttribute('aria-busy')).toBe('true')
    expect(screen.getByRole('cell', { name: 'Loading activities…' })).toBeTruthy()
    await waitFor(() => expect(screen.getByRole('table').getAttribute('aria-busy')).toBe('false'))
    expect(screen.getAllByRole('columnheader').map((header) => header.textContent)).toEqual(['User', 'Activity Type', 'Timestamp', 'Time Taken', 'Token Usage', 'View Details'])
    expect(screen.getAllByRole('rowheader').map((cell) => cell.textContent)).toEqual(['form_submiterror', 'page_visit'])
    expect(screen.getAllByRole('cell', { name: /ana|ben/ }).map((cell) => cell.textContent)).toEqual(['ben', 'ana'])
  })

  it('says so when there is nothing to show', async () => {
    renderWith(backend.clientFor('zoe'), <Table />)
    expect(await screen.findByRole('cell', { name: 'Nothing tracked yet.' })).toBeTruthy()
    expect(screen.getByRole('button', { name: 'Next' }).hasAttribute('disabled')).toBe(true)
  })

  it('shows an error the reader can retry', async () => {
    failing = true
    const user = userEvent.setup()
    renderWith(backend.clientFor('ana'), <Table />)
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toMatch(/Could not load activities\. GET .* answered 503: The flaky store is unavailable; try again\./)
    failing = false
    await user.click(screen.getByRole('button', { name: 'Try again' }))
    await waitFor(() => expect(screen.queryByRole('alert')).toBeNull())
    expect(screen.getAllByRole('rowheader').map((cell) => cell.textContent)).toEqual(['page_visit'])
  })
})
