import { createActivityClient } from '@usertracking/client'
import type { Activity } from '@usertracking/core'
import { screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { useState } from 'react'
import { describe, expect, it } from 'vitest'
import { renderWith } from '../test/harness'
import { ActivityDetails } from './activity-details'

// Details render what they are given: no request is made.
const client = createActivityClient()

const activity: Activity = {
  id: '0197e2a4-1111-7000-8000-000000000001',
  activityType: 'chat_completion',
  timestamp: '2025-07-06T10:05:00.000Z',
  userId: 'ana',
  sessionId: 's-1',
  durationMs: 2_450,
  tokenUsage: { input: 1000, output: 420, total: 1420, model: 'gpt-4o-mini' },
  cost: { total: 0.000402, input: 0.00015, output: 0.000252, currency: 'USD', source: 'genai-prices@0.0.40' },
  status: 'error',
  error: 'rate limited',
  context: { page: '/chat', userAgent: 'Mozilla/5.0' },
  metadata: { prompt: { type: 'rewrite', retries: 2, cached: false }, tags: [] },
}

function Harness({ variant }: { variant?: 'modal' | 'drawer' }) {
  const [open, setOpen] = useState<Activity>()
  return (
    <>
      <button type="button" onClick={() => setOpen(activity)}>
        Open
      </button>
      <button type="button">Behind</button>
      <ActivityDetails activity={open} onClose={() => setOpen(undefined)} variant={variant} />
    </>
  )
}

describe('ActivityDetails', () => {
  it('shows duration, tokens, model, cost, status, context and metadata for people', async () => {
    const user = userEvent.setup()
    renderWith(client, <Harness />)
    await user.click(screen.getByRole('button', { name: 'Open' }))
    const dialog = screen.getByRole('dialog', { name: /chat_completion/ })
    const facts = Object.fromEntries(
      within(dialog)
        .getAllByRole('term')
        .map((term) => [term.textContent, term.nextElementSibling?.textContent]),
    )
    expect(facts).toMatchObject({
      'Time taken': '2.5 s',
      'Token usage': '1,420 (1,000 in, 420 out)',
      Model: 'gpt-4o-mini',
      Cost: '$0.0004',
      Status: 'error: rate limited',
      page: '/chat',
      type: 'rewrite',
      retries: '2',
      cached: 'false',
      tags: '(empty list)',
    })
    expect(within(dialog).getByText('Jul 6, 2025, 10:05 AM').getAttribute('datetime')).toBe(activity.timestamp)
  })

  it('says a cost is unknown rather than free when the model has no price', async () => {
    const user = userEvent.setup()
    renderWith(client, <ActivityDetails activity={{ ...activity, cost: { currency: 'USD', source: 'genai-prices@0.0.40', unpriced: true } }} onClose={() => {}} />)
    expect(screen.getByRole('dialog').textContent).toContain('Unknown (no price for gpt-4o-mini)')
    await user.keyboard('{Tab}')
    expect(screen.getByRole('dialog').contains(document.activeElement)).toBe(true)
  })

  it('as a drawer, keeps Tab inside and closes on a click outside, giving the focus back', async () => {
    const user = userEvent.setup()
    renderWith(client, <Harness variant="drawer" />)
    const opener = screen.getByRole('button', { name: 'Open' })
    await user.click(opener)
    const dialog = screen.getByRole('dialog')
    expect(dialog.parentElement?.dataset.variant).toBe('drawer')
    for (let press = 0; press < 3; press++) {
      await user.tab()
      expect(dialog.contains(document.activeElement)).toBe(true)
    }
    await user.click(dialog.parentElement!)
    expect(screen.queryByRole('dialog')).toBeNull()
    expect(document.activeElement).toBe(opener)
  })
})
