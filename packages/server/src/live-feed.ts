import { unref, type Activity, type Store } from '@usertracking/core'
import { HttpError } from './errors'
import type { LiveBus } from './live-bus'
import type { ResolvedLiveOptions } from './live-options'
import type { StoreCaller } from './store-call'

/** One activity as the live feed numbered it. */
export interface LiveEvent {
  /** Position in this feed; `Last-Event-ID` names it to resume after it. */
  seq: number
  activity: Activity
}

/** The live feed's sources and limits; see `ActivityHandlerOptions.live`. */
export interface LiveFeedOptions {
  /**
   * Shares live activities with the other instances of this server (`redisLiveBus` from
   * `@usertracking/redis`): each instance publishes what it ingested and streams what the others
   * did. With a bus the store is not polled; a store that can push (`subscribe`) is still listened
   * to, for writes that bypass the handlers. Without a bus, streams see this instance's ingest and
   * what the store pushes or polling finds.
   * @default none
   */
  bus?: LiveBus
  /**
   * Activities kept for `Last-Event-ID` resume. A client away for longer than it takes this many
   * activities to arrive is told to reload instead (an `event: reset`).
   * @default 1000
   */
  bufferSize?: number
  /** How often a store without `subscribe` is polled for activities written elsewhere, when there is no `bus`, in ms. @default 2000 */
  pollIntervalMs?: number
  /**
   * How far back (by `timestamp`) each poll looks, in ms. Activities written by other processes
   * with an older `timestamp` (an offline client's backlog) are stored but not pushed live.
   * @default 300000 (5 minutes)
   */
  pollWindowMs?: number
  /**
   * How long the feed keeps watching the store after its last stream closed, in ms, so a client
   * that reconnects (EventSource retries within seconds) resumes without a gap.
   * @default 300000 (5 minutes)
   */
  idleTimeoutMs?: number
}

type Listener = (events: LiveEvent[]) => void

function randomId(): string {
  return Math.floor(Math.random() * 0x100000000)
    .toString(36)
    .padStart(7, '0')
}

/**
 * Activities as they arrive, numbered, with a bounded backlog for resume. Fed by the ingest routes
 * of this process (and handed on to the bus, when there is one), by the bus (what other instances
 * ingested), and by the store: its `subscribe` where it has one, otherwise, without a bus, by
 * polling, so writes made by other processes reach the stream too. Duplicates (the same id seen
 * through two paths) are dropped, so each stream sends an activity once.
 */
export class LiveFeed {
  /** Distinguishes this feed's sequence numbers from another process's or an earlier run's. */
  readonly epoch = randomId()
  private readonly buffer: LiveEvent[] = []
  private readonly seen = new Set<string>()
  private readonly listeners = new Set<Listener>()
  private seq = 0
  private stopSource: (() => void) | undefined
  private idleTimer: ReturnType<typeof setTimeout> | undefined
  private readonly bufferSize: number
  private readonly pollIntervalMs: number
  private readonly pollWindowMs: number
  private readonly idleTimeoutMs: number
  private readonly bus: LiveBus | undefined

  constructor(
    private readonly store: Store,
    options: ResolvedLiveOptions,
    /** Polls run under the store time limit, so a stalled store delays polling instead of ending it. */
    private readonly storeCaller: StoreCaller,
    private readonly onError: (error: unknown) => void,
  ) {
    this.bufferSize = options.bufferSize
    this.pollIntervalMs = options.pollIntervalMs
    this.pollWindowMs = options.pollWindowMs
    this.idleTimeoutMs = options.idleTimeoutMs
    this.bus = options.bus
  }

  /** Fans out activities this instance ingested: to its own streams, and to the other instances through the bus. */
  publish(activities: readonly Activity[]): void {
    this.deliver(activities)
    // All of them, even ids this instance has seen: a store that pushes may have shown them here
    // first, and the other instances drop what they have seen themselves.
    if (!this.bus || activities.length === 0) return
    // The bus answers `local_only` instead of rejecting; a bus that breaks that promise is reported, not fatal.
    this.bus.publish(activities).catch(this.onError)
  }

  /** Numbers and fans out activities not seen before, to this instance's streams only. */
  private deliver(activities: readonly Activity[]): void {
    const events: LiveEvent[] = []
    for (const activity of activities) {
      if (!this.remember(activity.id)) continue
      const event = { seq: ++this.seq, activity }
      this.buffer.push(event)
      events.push(event)
    }
    if (events.length === 0) return
    // Trimmed in bulk once it holds twice its size, so each publish stays O(batch), not O(buffer).
    if (this.buffer.length >= this.bufferSize * 2) this.buffer.splice(0, this.buffer.length - this.bufferSize)
    for (const listener of this.listeners) listener(events)
  }

  /** The wire id of an event: epoch and sequence number. */
  eventId(event: LiveEvent): string {
    return `${this.epoch}-${event.seq}`
  }

  /**
   * Events after the one `lastEventId` names, or undefined when they cannot all be replayed (an id
   * from another run, or older than the backlog).
   */
  since(lastEventId: string): LiveEvent[] | undefined {
    const match = /^([0-9a-z]+)-(\d+)$/.exec(lastEventId)
    if (!match || match[1] !== this.epoch) return undefined
    const seq = Number(match[2])
    if (seq > this.seq) return undefined
    const kept = this.buffer.slice(-this.bufferSize)
    const oldest = kept[0]?.seq ?? this.seq + 1
    if (seq < oldest - 1) return undefined
    return kept.filter((event) => event.seq > seq)
  }

  /** Starts delivering new events to `listener`; returns the function that stops it. */
  connect(listener: Listener): () => void {
    this.listeners.add(listener)
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer)
      this.idleTimer = undefined
    }
    if (!this.stopSource) this.stopSource = this.startSource()
    return () => {
      if (!this.listeners.delete(listener) || this.listeners.size > 0) return
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined
        if (this.listeners.size === 0) this.stopWatching()
      }, this.idleTimeoutMs)
      unref(this.idleTimer)
    }
  }

  /** Stops watching the store and forgets every listener. */
  close(): void {
    this.listeners.clear()
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    this.stopWatching()
  }

  private stopWatching(): void {
    this.stopSource?.()
    this.stopSource = undefined
  }

  private remember(id: string): boolean {
    if (this.seen.has(id)) return false
    this.seen.add(id)
    // A Set iterates in insertion order: the first entry is the oldest.
    if (this.seen.size > this.bufferSize * 4) {
      for (const oldest of this.seen) {
        this.seen.delete(oldest)
        break
      }
    }
    return true
  }

  /** Starts every source of activities from elsewhere; returns the function that stops them. */
  private startSource(): () => void {
    const receive = (activities: Activity[]) => this.deliver(activities)
    const stops: (() => void)[] = []
    try {
      if (this.bus) stops.push(this.bus.subscribe(receive))
      if (this.store.subscribe) stops.push(this.store.subscribe({}, receive))
      else if (!this.bus) stops.push(this.poll())
    } catch (error) {
      // A source that cannot start leaves the streams with this instance's own activities.
      this.onError(error)
    }
    return () => {
      for (const stop of stops) stop()
    }
  }

  private poll(): () => void {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    let baseline = true
    const poll = async () => {
      try {
        const page = await this.storeCaller.run(() =>
          this.store.list({ from: new Date(Date.now() - this.pollWindowMs), sort: 'timestamp', order: 'desc', limit: 1000 }),
        )
        if (stopped) return
        const fresh = page.items.reverse()
        // The first poll only learns what is already there: those rows are history, not news.
        if (baseline) for (const activity of fresh) this.remember(activity.id)
        else this.deliver(fresh)
        baseline = false
      } catch (error) {
        // The store caller has reported its own failures and time-outs already.
        if (!HttpError.isInstance(error)) this.onError(error)
      }
      if (stopped) return
      timer = setTimeout(poll, this.pollIntervalMs)
      unref(timer)
    }
    void poll()
    return () => {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
    }
  }
}
