/**
 * Cost per call end to end: the real OpenAI and Anthropic clients wrapped by withActivity, a real
 * tracker pricing each activity in `beforeSend`, a budget over it, and the priced activity
 * through the ingest path's parser (what a Node client's httpSink batch meets on the server).
 */
import Anthropic from '@anthropic-ai/sdk'
import { parseActivity, withActivity } from '@usertracking/core'
import OpenAI from 'openai'
import { describe, expect, it } from 'vitest'
import { createBudget, createPricing, TABLE_SOURCE } from '../src/index'
import { fakeProviderSuite } from './recorder'

const suite = fakeProviderSuite()


describe('cost per call with the real clients', () => {
  it('prices each call at track time, calls the budget hook once the user passes the limit, and keeps the cost through ingest', async () => {
    const pricing = createPricing()
    const exceeded: [string, number][] = []
    const budget = createBudget({ limit: 0.0005, onBudgetExceeded: (userId, spent) => void exceeded.push([userId, spent]) })
    const recording = suite.recorder({ beforeSend: (activity) => budget.observe(pricing.enrich(activity)) })
    const openai = new OpenAI({ apiKey: 'test', baseURL: `${suite.provider.url}/v1`, maxRetries: 0 })
    const anthropic = new Anthropic({ apiKey: 'test', baseURL: suite.provider.url, maxRetries: 0 })
    const userId = (user: string) => user
    const chat = withActivity(recording.tracker, { activityType: 'chat_completion', userId }, (_user: string) =>
      openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }),
    )
    const claude = withActivity(recording.tracker, { activityType: 'chat_completion', userId }, (_user: string) =>
      anthropic.messages.stream({ model: 'claude-sonnet-4-20250514', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] }),
    )

    await chat('alice')
    expect(exceeded).toEqual([])
    await claude('alice').finalMessage()
    const activities = await recording.activities(2)
    expect(activities.map((activity) => activity.cost)).toEqual([
      { total: 0.000325, input: 0.000025, output: 0.0003, currency: 'USD', source: TABLE_SOURCE },
      { total: 0.00030675, input: 0.00008175, output: 0.000225, currency: 'USD', source: TABLE_SOURCE },
    ])
    expect(exceeded).toEqual([['alice', 0.00063175]])
    expect(budget.spent('alice')).toBe(0.00063175)

    const ingested = parseActivity(JSON.parse(JSON.stringify(activities[1])))
    expect(ingested.success && ingested.data.cost).toEqual(activities[1]!.cost)
  })

  it('marks a call to a model no table knows unpriced', async () => {
    const pricing = createPricing()
    const recording = suite.recorder({ beforeSend: pricing.enrich })
    const openai = new OpenAI({ apiKey: 'test', baseURL: `${suite.provider.url}/v1`, maxRetries: 0 })
    const chat = withActivity(recording.tracker, { activityType: 'chat_completion' }, () =>
      openai.chat.completions.create({ model: 'acme-internal-llm', messages: [{ role: 'user', content: 'Hi' }] }),
    )
    await chat()
    const [activity] = await recording.activities()
    expect(activity!.tokenUsage).toMatchObject({ total: 42, model: 'acme-internal-llm' })
    expect(activity!.cost).toEqual({ currency: 'USD', source: TABLE_SOURCE, unpriced: true })
  })
})
