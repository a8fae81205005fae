import type { ActivityInput } from '@usertracking/core'
import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { downloadsOf, renderWith, startBackend, type Backend } from '../test/harness'
import { MyActivities } from './my-activities'

const seed: ActivityInput[] = [
  { userId: 'ana', activityType: 'resume_generation', timestamp: '2025-07-01T10:00:00Z', tokenUsage: 1420, timeTaken: 3.2, description: 'Tailored resume for Amazon job', metadata: { jobTitle: 'Data Engineer', resume: { pages: 2, sections: ['skills', 'experience'] } }, context: { page: '/tailor' } },
  { userId: 'ana', activityType: 'job_match', timestamp: '2025-07-02T10:00:00Z', tokenUsage: 300, timeTaken: 1.1 },
  { userId: 'ana', activityType: 'resume_generation', timestamp: '2025-07-03T10:00:00Z', tokenUsage: 2200, timeTaken: 5 },
  { userId: 'ana', activityType: 'job_match', timestamp: '2025-07-04T10:00:00Z', tokenUsage: 90, timeTaken: 0.4 },
  { userId: 'ana', activityType: 'resume_generation', timestamp: '2025-07-05T10:00:00Z', tokenUsage: 1800, timeTaken: 4.4 },
  { userId: 'ben', activityType: 'cover_letter', timestamp: '2025-07-05T11:00:00Z', tokenUsage: 999, timeTaken: 2 },
]

let backend: Backend
beforeAll(async () => {
  backend = await startBackend()
  await backend.server.ingest(seed)
})
afterAll(() => backend.close())

/** The table's body rows as [type, timestamp, time taken, tokens]. */
function rows(): string[][] {
  const table = screen.getByRole('table', { name: 'My Activities' })
  return within(table)
    .getAllByRole('row')
    .slice(1)
    .map((row) => [...row.querySelectorAll('th, td')].map((cell) => cell.textContent ?? ''))
    .map((cells) => cells.slice(0, 4))
}

const tokensColumn = () => rows().map((row) => row[3])

describe('MyActivities', () => {
  it('shows the user’s own rows newest first, formatted for people', async () => {
    renderWith(backend.clientFor('ana'), <MyActivities perPage={3} live={false} />)
    await waitFor(() => expect(rows()).toHaveLength(3))
    expect(rows()).toEqual([
      ['resume_generation', 'Jul 5, 2025, 10:00 AM', '4.4 s', '1,800'],
      ['job_match', 'Jul 4, 2025, 10:00 AM', '400 ms', '90'],
      ['resume_generation', 'Jul 3, 2025, 10:00 AM', '5 s', '2,200'],
    ])
    expect(screen.getByRole('navigation', { name: 'Pagination' }).textContent).toContain('Page 1 of 2 · 5 activities')
    const header = screen.getByRole('columnheader', { name: /Timestamp/ })
    expect(header.getAttribute('aria-sort')).toBe('descending')
  })

  it('sorts by a header, keeps the order in the URL, and pages', async () => {
    const user = userEvent.setup()
    renderWith(backend.clientFor('ana'), <MyActivities perPage={2} live={false} />)
    await waitFor(() => expect(rows()).toHaveLength(2))
    await user.click(screen.getByRole('button', { name: /Token Usage/ }))
    await waitFor(() => expect(tokensColumn()).toEqual(['2,200', '1,800']))
    expect(screen.getByRole('columnheader', { name: /Token Usage/ }).getAttribute('aria-sort')).toBe('descending')
    expect(new URLSearchParams(window.location.search).get('sort')).toBe('tokens')
    await user.click(screen.getByRole('button', { name: /Token Usage/ }))
    await waitFor(() => expect(tokensColumn()).toEqual(['90', '300']))
    expect(window.location.search).toBe('?sort=tokens&order=asc')

    await user.click(screen.getByRole('button', { name: 'Next' }))
    await waitFor(() => expect(tokensColumn()).toEqual(['1,420', '1,800']))
    await user.click(screen.getByRole('button', { name: 'Next' }))
    await waitFor(() => expect(tokensColumn()).toEqual(['2,200']))
    expect(screen.getByRole('button', { name: 'Next' }).hasAttribute('disabled')).toBe(true)
    await user.click(screen.getByRole('button', { name: 'Previous' }))
    await waitFor(() => expect(tokensColumn()).toEqual(['1,420', '1,800']))
  })

  it('sorts on a phone too: the "Sort by" menu offers the headers’ orders and follows them', async () => {
    const user = userEvent.setup()
    renderWith(backend.clientFor('ana'), <MyActivities perPage={2} live={false} />)
    await waitFor(() => expect(rows()).toHaveLength(2))
    const menu = screen.getByLabelText('Sort by') as HTMLSelectElement
    expect([...menu.options].map((option) => option.textContent)).toEqual([
      'Timestamp, newest first',
      'Timestamp, oldest first',
      'Time Taken, longest first',
      'Time Taken, shortest first',
      'Token Usage, most first',
      'Token Usage, fewest first',
    ])
    expect(menu.selectedOptions[0]!.textContent).toBe('Timestamp, newest first')
    await user.selectOptions(menu, 'Token Usage, most first')
    await waitFor(() => expect(tokensColumn()).toEqual(['2,200', '1,800']))
    expect(new URLSearchParams(window.location.search).get('sort')).toBe('tokens')
    expect(screen.getByRole('columnheader', { name: /Token Usage/ }).getAttribute('aria-sort')).toBe('descending')
    await user.selectOptions(menu, 'Time Taken, shortest first')
    await waitFor(() => expect(tokensColumn()).toEqual(['90', '300']))
    // A header click (on a wider screen) moves the menu along.
    await user.click(screen.getByRole('button', { name: /Timestamp/ }))
    await waitFor(() => expect(menu.selectedOptions[0]!.textContent).toBe('Timestamp, newest first'))
  })

  it('reads its filters from a shared URL, and writes them back as they change', async () => {
    window.history.replaceState(null, '', '/my-activities?activityType=resume_generation&minTokens=1500&tab=log')
    const user = userEvent.setup()
    renderWith(backend.clientFor('ana'), <MyActivities live={false} />)
    await waitFor(() => expect(tokensColumn()).toEqual(['1,800', '2,200']))
    expect((screen.getByLabelText('Activity type') as HTMLSelectElement).value).toBe('resume_generation')
    expect((screen.getByLabelText('Min tokens') as HTMLInputElement).value).toBe('1500')

    await user.selectOptions(screen.getByLabelText('Activity type'), 'job_match')
    await user.clear(screen.getByLabelText('Min tokens'))
    await waitFor(() => expect(tokensColumn()).toEqual(['90', '300']))
    expect(window.location.pathname).toBe('/my-activities')
    expect(Object.fromEntries(new URLSearchParams(window.location.search))).toEqual({ activityType: 'job_match', tab: 'log' })

    // Days are the viewer's (UTC here): 2 July to 3 July includes both whole days.
    await user.selectOptions(screen.getByLabelText('Activity type'), '')
    await user.type(screen.getByLabelText('From'), '2025-07-02')
    await user.type(screen.getByLabelText('To'), '2025-07-03')
    await waitFor(() => expect(tokensColumn()).toEqual(['2,200', '300']))
    expect(new URLSearchParams(window.location.search).get('from')).toBe('2025-07-02')

    await user.type(screen.getByLabelText('Max tokens'), '1000')
    await waitFor(() => expect(tokensColumn()).toEqual(['300']))
    await user.click(screen.getByRole('button', { name: 'Clear filters' }))
    await waitFor(() => expect(rows()).toHaveLength(5))
    expect(window.location.search).toBe('?tab=log')
  })

  it('puts each view and page in the history: Back and Forward bring them back', async () => {
    const user = userEvent.setup()
    renderWith(backend.clientFor('ana'), <MyActivities perPage={2} live={false} />)
    await waitFor(() => expect(tokensColumn()).toEqual(['1,800', '90']))
    const entries = window.history.length
    await user.click(screen.getByRole('button', { name: 'Next' }))
    await waitFor(() => expect(tokensColumn()).toEqual(['2,200', '300']))
    expect(window.location.search).toBe('?page=2')
    // A new filter starts from its first page.
    await user.selectOptions(screen.getByLabelText('Activity type'), 'resume_generation')
    await waitFor(() => expect(tokensColumn()).toEqual(['1,800', '2,200']))
    expect(window.location.search).toBe('?activityType=resume_generation')
    await user.type(screen.getByLabelText('Min tokens'), '2000')
    await waitFor(() => expect(tokensColumn()).toEqual(['2,200']))
    // One entry per change: the four keystrokes of "2000" are one edit.
    expect(window.history.length).toBe(entries + 3)

    window.history.back()
    await waitFor(() => expect(tokensColumn()).toEqual(['1,800', '2,200']))
    expect((screen.getByLabelText('Min tokens') as HTMLInputElement).value).toBe('')
    window.history.back()
    await waitFor(() => expect(tokensColumn()).toEqual(['2,200', '300']))
    expect((screen.getByLabelText('Activity type') as HTMLSelectElement).value).toBe('')
    expect(screen.getByRole('navigation', { name: 'Pagination' }).textContent).toContain('Page 2 of 3 · 5 activities')
    window.history.forward()
    await waitFor(() => expect(tokensColumn()).toEqual(['1,800', '2,200']))
    expect((screen.getByLabelText('Activity type') as HTMLSelectElement).value).toBe('resume_generation')
  })

  it('opens a shared link to a later page, and pages on from there', async () => {
    window.history.replaceState(null, '', '/?sort=tokens&order=asc&page=3')
    const user = userEvent.setup()
    renderWith(backend.clientFor('ana'), <MyActivities perPage={2} live={false} />)
    await waitFor(() => expect(tokensColumn()).toEqual(['2,200']))
    expect(screen.getByRole('navigation', { name: 'Pagination' }).textContent).toContain('Page 3 of 3 · 5 activities')
    expect(screen.getByRole('button', { name: 'Next' }).hasAttribute('disabled')).toBe(true)
    await user.click(screen.getByRole('button', { name: 'Previous' }))
    await waitFor(() => expect(tokensColumn()).toEqual(['1,420', '1,800']))
    expect(window.location.search).toBe('?sort=tokens&order=asc&page=2')
    await user.click(screen.getByRole('button', { name: 'Previous' }))
    await waitFor(() => expect(tokensColumn()).toEqual(['90', '300']))
    expect(window.location.search).toBe('?sort=tokens&order=asc')
  })

  it('opens details in a modal that holds the focus, closes on Escape and gives the focus back', async () => {
    const user = userEvent.setup()
    renderWith(backend.clientFor('ana'), <MyActivities live={false} />)
    await waitFor(() => expect(rows()).toHaveLength(5))
    const opener = screen.getByRole('button', { name: /View details of resume_generation at Jul 1, 2025/ })
    await user.click(opener)
    const dialog = screen.getByRole('dialog', { name: /resume_generation/ })
    expect(dialog.getAttribute('aria-modal')).toBe('true')
    const close = within(dialog).getByRole('button', { name: 'Close details' })
    expect(document.activeElement).toBe(close)
    expect(dialog.textContent).toContain('Tailored resume for Amazon job')
    expect(dialog.textContent).toContain('3.2 s')
    expect(dialog.textContent).toContain('1,420')
    // Metadata as a tree: nested keys and list items are there to read.
    const terms = within(dialog).getAllByRole('term').map((term) => term.textContent)
    expect(terms).toEqual(expect.arrayContaining(['jobTitle', 'resume', 'pages', 'sections', 'page']))
    expect(within(dialog).getAllByRole('listitem').map((item) => item.textContent)).toEqual(['skills', 'experience'])

    // The close button is the only control: Tab and Shift+Tab stay on it.
    await user.tab()
    expect(document.activeElement).toBe(close)
    await user.tab({ shift: true })
    expect(document.activeElement).toBe(close)
    await user.keyboard('{Escape}')
    expect(screen.queryByRole('dialog')).toBeNull()
    expect(document.activeElement).toBe(opener)
  })

  it('exports the current filter: the browser downloads the export URL, which holds the rows on screen', async () => {
    window.history.replaceState(null, '', '/?activityType=job_match')
    const user = userEvent.setup()
    // Cookie sessions: no headers, so the download is a plain link the browser streams to disk.
    const client = backend.clientFor('ana', { headers: undefined })
    renderWith(client, <MyActivities live={false} types={['job_match', 'resume_generation']} />)
    const downloads = await downloadsOf(() => user.click(screen.getByRole('button', { name: 'Export CSV' })))
    expect(downloads).toEqual([{ href: `${backend.server.baseUrl}/activities/export?activityType=job_match&order=desc&format=csv`, download: 'activities.csv' }])
    const csv = await fetch(downloads[0]!.href, { headers: { authorization: 'Bearer ana' } }).then((response) => response.text())
    // Newest first, as the table shows them.
    expect(csv.trim().split('\r\n').slice(1).map((line) => line.split(',')[10])).toEqual(['90', '300'])
  })

  it('with header auth, fetches the export of the current filter and hands the file to the browser', async () => {
    window.history.replaceState(null, '', '/?minTokens=1000&sort=tokens')
    const user = userEvent.setup()
    renderWith(backend.clientFor('ana'), <MyActivities live={false} />)
    await waitFor(() => expect(tokensColumn()).toEqual(['2,200', '1,800', '1,420']))
    const files: Blob[] = []
    const createObjectURL = URL.createObjectURL.bind(URL)
    URL.createObjectURL = (blob: Blob) => {
      files.push(blob)
      return createObjectURL(blob)
    }
    const downloads: string[] = []
    const onClick = (event: MouseEvent) => {
      const link = event.target as HTMLAnchorElement
      if (link.tagName === 'A' && link.download) {
        event.preventDefault()
        downloads.push(link.download)
      }
    }
    document.addEventListener('click', onClick, true)
    try {
      await user.selectOptions(screen.getByLabelText('Export format'), 'JSON')
      await user.click(screen.getByRole('button', { name: 'Export JSON' }))
      await waitFor(() => expect(downloads).toEqual(['activities.json']))
    } finally {
      document.removeEventListener('click', onClick, true)
      URL.createObjectURL = createObjectURL
    }
    const exported = JSON.parse(await files[0]!.text()) as { tokenUsage: { total: number } }[]
    expect(exported.map((activity) => activity.tokenUsage.total)).toEqual([2200, 1800, 1420])
  })

  it('merges a new activity live at the top and announces it', async () => {
    renderWith(backend.clientFor('ana'), <MyActivities />)
    await waitFor(() => expect(screen.getByText('Live')).toBeTruthy())
    await waitFor(() => expect(rows()).toHaveLength(5))
    await backend.server.ingest([{ userId: 'ana', activityType: 'job_match', tokenUsage: 4242, timestamp: new Date().toISOString() }])
    await waitFor(() => expect(tokensColumn()[0]).toBe('4,242'))
    expect(screen.getByRole('status').textContent).toBe('New activity: job_match')
    const table = screen.getByRole('table', { name: 'My Activities' })
    expect(within(table).getAllByRole('row')[1]!.className).toBe('ut-fresh')
  })
})
