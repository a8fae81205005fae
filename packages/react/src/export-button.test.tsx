import { createActivityClient } from '@usertracking/client'
import { screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { downloadsOf, renderWith } from '../test/harness'
import { ExportButton } from './export-button'

// Cookie sessions: a download is a link to the export URL, so no request leaves before the browser follows it.
const client = createActivityClient({ baseUrl: 'https://activities.example/api' })

describe('ExportButton', () => {
  it('lists its formats CSV, JSON, NDJSON whatever the order given, with CSV picked to begin with', async () => {
    const user = userEvent.setup()
    renderWith(client, <ExportButton formats={['ndjson', 'json', 'csv']} query={{ activityType: 'job_match' }} />)
    const picker = screen.getByLabelText('Export format') as HTMLSelectElement
    expect([...picker.options].map((option) => option.textContent)).toEqual(['CSV', 'JSON', 'NDJSON'])
    expect(picker.value).toBe('csv')
    expect(await downloadsOf(() => user.click(screen.getByRole('button', { name: 'Export CSV' })))).toEqual([
      { href: 'https://activities.example/api/activities/export?activityType=job_match&format=csv', download: 'activities.csv' },
    ])

    await user.selectOptions(picker, 'NDJSON')
    expect(await downloadsOf(() => user.click(screen.getByRole('button', { name: 'Export NDJSON' })))).toEqual([
      { href: 'https://activities.example/api/activities/export?activityType=job_match&format=ndjson', download: 'activities.ndjson' },
    ])
  })

  it('picks the first format offered when CSV is not among them, and needs no picker for one format', () => {
    const { unmount } = renderWith(client, <ExportButton formats={['ndjson', 'json']} />)
    expect((screen.getByLabelText('Export format') as HTMLSelectElement).value).toBe('json')
    expect(screen.getByRole('button', { name: 'Export JSON' })).toBeTruthy()
    unmount()

    renderWith(client, <ExportButton formats={['ndjson']} />)
    expect(screen.queryByLabelText('Export format')).toBeNull()
    expect(screen.getByRole('button', { name: 'Export NDJSON' })).toBeTruthy()
  })
})
