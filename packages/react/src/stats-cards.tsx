import type { ActivityStatsResult } from '@usertracking/client'
import { useActivityContext } from './context'
import type { Format } from './format'
import type { ActivityStatsState } from './use-activity-stats'

/** The cards {@link StatsCards} can show. */
export type StatsCard = 'total' | 'users' | 'visitors' | 'sessions' | 'tokens' | 'cost' | 'duration'

/** Props of {@link StatsCards}. */
export interface StatsCardsProps {
  /** From {@link useActivityStats}. */
  stats: ActivityStatsState
  /** Which cards, in order. @default ['total', 'users', 'visitors', 'tokens', 'cost', 'duration'] */
  cards?: readonly StatsCard[]
}

const CARDS: Record<StatsCard, [label: string, value: (stats: ActivityStatsResult, format: Format) => string, note?: (stats: ActivityStatsResult, format: Format) => string | undefined]> = {
  total: ['Activities', (stats, format) => format.number(stats.total), (stats, format) => (stats.recent ? `${format.number(stats.recent.total)} in the last ${format.duration(Date.now() - Date.parse(stats.recent.from)).replace(/ \d+ min$/, '')}` : undefined)],
  users: ['Unique users', (stats, format) => format.number(stats.uniqueUsers)],
  visitors: ['Unique visitors', (stats, format) => format.number(stats.uniqueVisitors)],
  sessions: ['Sessions', (stats, format) => format.number(stats.sessions)],
  tokens: ['Tokens', (stats, format) => format.number(stats.tokens.total), (stats, format) => `${format.number(stats.tokens.input)} in · ${format.number(stats.tokens.output)} out`],
  cost: ['Cost', (stats, format) => format.money(stats.cost.total), (stats, format) => (stats.cost.unpriced ? `${format.number(stats.cost.unpriced)} unpriced` : undefined)],
  duration: ['Average time', (stats, format) => format.duration(stats.duration.avgMs), (stats, format) => (stats.duration.p95Ms == null ? undefined : `p95 ${format.duration(stats.duration.p95Ms)}`)],
}

/** Headline numbers as cards: activities, unique users and visitors, sessions, tokens, cost, time taken. */
export function StatsCards({ stats: state, cards = ['total', 'users', 'visitors', 'tokens', 'cost', 'duration'] }: StatsCardsProps) {
  const { format } = useActivityContext()
  const { stats, error, loading } = state
  if (error && !stats) {
    return (
      <p className="ut ut-error" role="alert">
        Could not load the numbers. {error.message.replace(/^\[usertracking\] \[client\] /, '')}
      </p>
    )
  }
  return (
    <dl className="ut ut-cards" aria-busy={loading}>
      {cards.map((card) => {
        const [label, value, note] = CARDS[card]
        const detail = stats && note?.(stats, format)
        return (
          <div key={card} className="ut-card">
            <dt>{label}</dt>
            <dd>
              <span className="ut-card-value">{stats ? value(stats, format) : '…'}</span>
              {detail && <span className="ut-card-note">{detail}</span>}
            </dd>
          </div>
        )
      })}
    </dl>
  )
}
