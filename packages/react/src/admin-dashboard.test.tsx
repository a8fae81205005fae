import { uuidv7, type Activity, type ActivityInput } from '@usertracking/core'
import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderWith, startBackend, type Backend } from '../test/harness'
import { AdminDashboard } from './admin-dashboard'

const DAY = 86_400_000
const today = Math.floor(Date.now() / DAY) * DAY
const at = (daysAgo: number, hour = 1) => new Date(today - daysAgo * DAY + hour * 3_600_000).toISOString()
// Today's activities happened before now, whatever the time of day: at 00:30 UTC an activity at
// 02:00 today would be in the future, and sort above one tracked live.
const earlierToday = (secondsAgo: number) => new Date(Math.max(today, Date.now() - secondsAgo * 1000)).toISOString()
const dayLabel = (daysAgo: number) => new Date(today - daysAgo * DAY).toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' })
const cost = (total: number) => ({ total, currency: 'USD' as const, source: 'custom' })

/** Priced as a tracker with a price table records them, straight into the store. */
const priced: Activity[] = [
  { id: uuidv7(), userId: 'ana', sessionId: 's1', activityType: 'chat_completion', timestamp: at(2), tokenUsage: { total: 1000 }, cost: cost(0.01) },
  { id: uuidv7(), userId: 'ana', sessionId: 's1', activityType: 'chat_completion', timestamp: at(2, 2), tokenUsage: { total: 500 }, cost: cost(0.005) },
]
const seed: ActivityInput[] = [
  { userId: 'ben', sessionId: 's2', activityType: 'login', timestamp: at(1), context: { page: '/login' } },
  { anonymousId: 'anon-1', sessionId: 's3', activityType: 'page_visit', timestamp: earlierToday(120), context: { page: '/pricing' } },
  { anonymousId: 'anon-1', sessionId: 's3', activityType: 'button_click', timestamp: earlierToday(60), context: { page: '/pricing' } },
  // Outside the 14 days shown.
  { userId: 'old', activityType: 'login', timestamp: at(30) },
]

let backend: Backend
beforeAll(async () => {
  backend = await startBackend()
  expect(await backend.store.sink.write(priced, { signal: new AbortController().signal })).toMatchObject({ type: 'success' })
  await backend.server.ingest(seed)
})
afterAll(() => backend.close())

const card = (label: string) => [...document.querySelectorAll('.ut-card')].find((element) => element.querySelector('dt')?.textContent === label)?.querySelector('.ut-card-value')?.textContent

describe('AdminDashboard', () => {
  it('shows totals, people, tokens and cost over the period, activities, tokens and cost per day, per type, and every user’s recent activity', async () => {
    renderWith(backend.clientFor('admin'), <AdminDashboard />)
    await waitFor(() => expect(card('Activities')).toBe('5'))
    expect(card('Unique users')).toBe('2')
    expect(card('Unique visitors')).toBe('3')
    expect(card('Sessions')).toBe('3')
    expect(card('Tokens')).toBe('1,500')
    expect(card('Cost')).toBe('$0.015')

    const activitiesChart = screen.getByRole('img', { name: /^Activities over time/ })
    expect(activitiesChart.getAttribute('aria-label')).toMatch(/^Activities over time: 5 activities from .* to .*, most on .* \(2\)\.$/)
    expect(activitiesChart.querySelectorAll('rect')).toHaveLength(14)
    const tokensChart = screen.getByRole('img', { name: /^Tokens over time/ })
    expect([...tokensChart.querySelectorAll('rect title')].map((title) => title.textContent).filter((text) => !text?.endsWith(': 0 tokens'))).toEqual([
      `${dayLabel(2)}: 1,500 tokens`,
    ])
    const costChart = screen.getByRole('img', { name: /^Cost over time/ })
    expect(costChart.getAttribute('aria-label')).toBe(`Cost over time: $0.015 from ${dayLabel(13)} to ${dayLabel(0)}, most on ${dayLabel(2)} ($0.015).`)
    expect(costChart.querySelectorAll('rect')).toHaveLength(14)
    expect([...costChart.querySelectorAll('rect title')].map((title) => title.textContent).filter((text) => !text?.endsWith(': $0.00'))).toEqual([`${dayLabel(2)}: $0.015`])

    const byType = screen.getByRole('table', { name: 'By activity type' })
    expect(within(byType).getAllByRole('row').slice(1).map((row) => row.textContent)).toEqual(['chat_completion21,500$0.015', 'button_click10$0.00', 'login10$0.00', 'page_visit10$0.00'])
    const pages = screen.getByRole('table', { name: 'Top pages' })
    await waitFor(() => expect(within(pages).getAllByRole('row').slice(1).map((row) => row.textContent)).toEqual(['/pricing20$0.00', '/login10$0.00']))

    const recent = screen.getByRole('table', { name: 'Recent activity across users' })
    await waitFor(() => expect(within(recent).getAllByRole('row')).toHaveLength(7))
    expect([...recent.querySelectorAll('tbody tr td:first-child')].map((cell) => cell.textContent)).toEqual(['anon-1', 'anon-1', 'ben', 'ana', 'ana', 'old'])
  })

  it('filters and sorts every user’s recent activity, as story 4’s admin list does, without touching the URL', async () => {
    window.history.replaceState(null, '', '/admin')
    const user = userEvent.setup()
    renderWith(backend.clientFor('admin'), <AdminDashboard />)
    const recent = screen.getByRole('table', { name: 'Recent activity across users' })
    const users = () => [...recent.querySelectorAll('tbody tr td:first-child')].map((cell) => cell.textContent)
    await waitFor(() => expect(users()).toHaveLength(6))
    await waitFor(() => expect([...(screen.getByLabelText('Activity type') as HTMLSelectElement).options].map((option) => option.value)).toContain('login'))

    await user.selectOptions(screen.getByLabelText('Activity type'), 'login')
    await waitFor(() => expect(users()).toEqual(['ben', 'old']))
    await user.type(screen.getByLabelText('Min tokens'), '5000')
    await waitFor(() => expect(recent.textContent).toContain('No activities match these filters.'))
    await user.click(screen.getByRole('button', { name: 'Clear filters' }))
    await waitFor(() => expect(users()).toHaveLength(6))

    await user.click(screen.getByRole('button', { name: /Token Usage/ }))
    await waitFor(() => expect([...recent.querySelectorAll('tbody td[data-label="Token Usage"]')].slice(0, 2).map((cell) => cell.textContent)).toEqual(['1,000', '500']))
    expect(screen.getByRole('columnheader', { name: /Token Usage/ }).getAttribute('aria-sort')).toBe('descending')
    expect(window.location.href).toBe(`${window.location.origin}/admin`)
  })

  it('counts today live and keeps the numbers current as activities arrive', async () => {
    renderWith(backend.clientFor('admin'), <AdminDashboard />)
    await waitFor(() => expect(screen.getByText(/activit(y|ies) today/).parentElement?.textContent).toBe('2 activities today'))
    await waitFor(() => expect(document.querySelector('.ut-live-counter')?.getAttribute('data-connected')).toBe('true'))
    await backend.server.ingest([{ userId: 'cy', activityType: 'login', timestamp: new Date().toISOString() }])
    await waitFor(() => expect(screen.getByText(/activities today/).parentElement?.textContent).toBe('3 activities today'))
    await waitFor(() => expect(card('Activities')).toBe('6'))
    const recent = screen.getByRole('table', { name: 'Recent activity across users' })
    await waitFor(() => expect(recent.querySelector('tbody tr td')?.textContent).toBe('cy'))
  })
})
