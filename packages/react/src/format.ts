import type { ActivityCost } from '@usertracking/core'

/** How numbers and times read on screen; see {@link createFormat}. */
export interface Format {
  /** `Jul 6, 2025, 12:05 PM` in the viewer's locale and time zone. */
  timestamp(iso: string): string
  /**
   * A bucket's start for chart axes: the time of day when `intervalMs` is under a day, else the
   * day, read in UTC since the server aligns day buckets to UTC midnights.
   */
  bucket(iso: string, intervalMs: number): string
  /** `850 ms`, `3.2 s`, `2 min 5 s`, `1 h 4 min`. */
  duration(ms: number | undefined | null): string
  /** `1,420`. */
  number(value: number | undefined | null): string
  /** US dollars with cents (`$0.30`, `$12.40`), and two significant digits below a cent (`$0.0042`). */
  money(amount: number): string
  /** An activity's cost: its total, or `Unknown` for a model without a known price. */
  cost(cost: ActivityCost | undefined): string
}

/** What stands in for a missing value. */
export const NONE = '—'

/**
 * Formatters for one locale and time zone. Both default to the viewer's (the browser's), which is
 * what a person reading their own activity log expects; pass them to render the same on the server.
 */
export function createFormat(locale?: string, timeZone?: string): Format {
  const numbers = new Intl.NumberFormat(locale)
  const decimal = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 })
  const timestamps = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone })
  const days = new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', timeZone: 'UTC' })
  const hours = new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit', timeZone })
  const cents = new Intl.NumberFormat(locale, { style: 'currency', currency: 'USD' })
  const money = (amount: number) => {
    const size = Math.abs(amount)
    if (size === 0 || size >= 1 || !Number.isFinite(size)) return cents.format(amount)
    // Sub-cent amounts are what one LLM call costs: keep two significant digits instead of showing
    // $0.00, but never fewer than the two fraction digits of cents ($0.30, not $0.3). Fraction
    // digits rather than significant ones, which would drop that zero; 20 is Intl's old maximum.
    const digits = Math.min(20, Math.max(2, 1 - Math.floor(Math.log10(size))))
    return new Intl.NumberFormat(locale, { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: digits }).format(amount)
  }
  return {
    timestamp: (iso) => timestamps.format(new Date(iso)),
    bucket: (iso, intervalMs) => (intervalMs < 86_400_000 ? hours : days).format(new Date(iso)),
    duration(ms) {
      if (ms == null) return NONE
      if (ms < 1000) return `${numbers.format(Math.round(ms))} ms`
      const seconds = ms / 1000
      if (seconds < 60) return `${decimal.format(seconds)} s`
      const minutes = Math.floor(seconds / 60)
      if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`
      return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
    },
    number: (value) => (value == null ? NONE : numbers.format(value)),
    money,
    cost: (cost) => (!cost ? NONE : cost.unpriced || cost.total === undefined ? 'Unknown' : money(cost.total)),
  }
}
