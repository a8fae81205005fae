/**
 * The announcer: committed writes are announced after the fact, one NOTIFY statement at a time,
 * coalesced, in order; a failed NOTIFY is a warning, never a rejection.
 */
import { uuidv7 } from '@usertracking/core'
import { describe, expect, it } from 'vitest'
import { ANNOUNCE_GAP_MS, createAnnouncer, MAX_UNANNOUNCED_IDS } from './announcer'
import type { PostgresAdapter } from './client-adapter'
import { parsePayload } from './notifications'

/** An adapter that records each statement and answers it when the test says so. */
function heldAdapter() {
  const statements: { text: string; answer: (error?: Error) => void }[] = []
  const adapter = {
    query: (text: string) =>
      new Promise((resolve, reject) => statements.push({ text, answer: (error) => (error ? reject(error) : resolve([])) })),
  } as unknown as PostgresAdapter
  return { adapter, statements }
}

/** The ids a statement announces, in order, across its pg_notify calls. */
function announced(text: string): string[] {
  return [...text.matchAll(/pg_notify\('[^']*', '([^']*)'\)/g)].flatMap((match) => parsePayload(match[1]!))
}

const ids = (count: number) => Array.from({ length: count }, () => uuidv7())

describe('createAnnouncer', () => {
  it('sends one statement at a time; what is announced meanwhile goes in the next, in order', async () => {
    const { adapter, statements } = heldAdapter()
    const announcer = createAnnouncer(adapter, 'usertracking:public.t', () => {})
    const [first, second, third] = [ids(1), ids(2), ids(3)]
    announcer.announce(first)
    await expect.poll(() => statements.length).toBe(1)
    announcer.announce(second)
    announcer.announce(third)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(statements).toHaveLength(1)
    statements[0]!.answer()
    await expect.poll(() => statements.length).toBe(2)
    statements[1]!.answer()
    await announcer.flushed()
    expect(statements.map((statement) => announced(statement.text))).toEqual([first, [...second, ...third]])
  })

  it(`starts the next statement ${ANNOUNCE_GAP_MS} ms after the last one started at the earliest, with every id of the gap`, async () => {
    const { adapter, statements } = heldAdapter()
    const announcer = createAnnouncer(adapter, 'c', () => {})
    const [first, second, third] = [ids(1), ids(1), ids(1)]
    announcer.announce(first)
    await expect.poll(() => statements.length).toBe(1)
    const firstStarted = performance.now()
    statements[0]!.answer()
    announcer.announce(second)
    await new Promise((resolve) => setTimeout(resolve, 5))
    announcer.announce(third)
    await expect.poll(() => statements.length).toBe(2)
    // Timers may fire up to a millisecond early by rounding.
    expect(performance.now() - firstStarted).toBeGreaterThanOrEqual(ANNOUNCE_GAP_MS - 1)
    statements[1]!.answer()
    await announcer.flushed()
    expect(statements.map((statement) => announced(statement.text))).toEqual([first, [...second, ...third]])
  })

  it('coalesces what is announced in the same turn into one statement', async () => {
    const { adapter, statements } = heldAdapter()
    const announcer = createAnnouncer(adapter, 'c', () => {})
    const [first, second] = [ids(1), ids(1)]
    announcer.announce(first)
    announcer.announce(second)
    await expect.poll(() => statements.length).toBe(1)
    statements[0]!.answer()
    await announcer.flushed()
    expect(announced(statements[0]!.text)).toEqual([...first, ...second])
  })

  it('warns when a NOTIFY fails, never rejects, and announces later writes', async () => {
    const { adapter, statements } = heldAdapter()
    const warnings: string[] = []
    const announcer = createAnnouncer(adapter, 'c', (message) => warnings.push(message))
    announcer.announce(ids(2))
    await expect.poll(() => statements.length).toBe(1)
    statements[0]!.answer(new Error('connection reset'))
    await announcer.flushed()
    expect(warnings).toEqual([expect.stringContaining('Announcing 2 stored activities on c failed')])
    const later = ids(1)
    announcer.announce(later)
    await expect.poll(() => statements.length).toBe(2)
    statements[1]!.answer()
    await announcer.flushed()
    expect(announced(statements[1]!.text)).toEqual(later)
  })

  it(`keeps the newest ${MAX_UNANNOUNCED_IDS} ids while the database holds a NOTIFY, with one warning`, async () => {
    const { adapter, statements } = heldAdapter()
    const warnings: string[] = []
    const announcer = createAnnouncer(adapter, 'c', (message) => warnings.push(message))
    announcer.announce(ids(1))
    await expect.poll(() => statements.length).toBe(1)
    const waiting = ids(MAX_UNANNOUNCED_IDS + 5)
    for (const id of waiting) announcer.announce([id])
    expect(warnings).toHaveLength(1)
    statements[0]!.answer()
    await expect.poll(() => statements.length).toBe(2)
    statements[1]!.answer()
    await announcer.flushed()
    expect(announced(statements[1]!.text)).toEqual(waiting.slice(5))
  })

  it('announces nothing for no ids, and flushed() resolves at once when idle', async () => {
    const { adapter, statements } = heldAdapter()
    const announcer = createAnnouncer(adapter, 'c', () => {})
    announcer.announce([])
    await announcer.flushed()
    expect(statements).toHaveLength(0)
  })
})
