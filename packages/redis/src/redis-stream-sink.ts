import { createHash } from 'node:crypto'
import { SinkError, type Activity, type Sink, type SinkResult } from '@usertracking/core'
import { positiveOption, requireOption } from './check-option'
import { runScript, type RedisClient } from './client'
import { streamKeys, type StreamKeyOptions } from './keys'
import { ACTIVITY_FIELD } from './stream-entry'

/** Options of {@link redisStreamSink}. */
export interface RedisStreamSinkOptions extends StreamKeyOptions {
  /** The app's ioredis client (`Redis` or `Cluster`); the sink sends its commands on it and never closes it. */
  client: RedisClient
  /**
   * The bound of the stream's backlog: entries the worker has not stored yet. Appends trim the
   * entries every consumer group is done with (`XTRIM MINID ~`: older than each group's oldest
   * pending entry; Redis trims whole nodes, so a few hundred more may stay), never one a worker
   * still holds. Activities that would push the backlog past it are not appended: the
   * write answers them as `rejected` ("the Redis buffer is full"), which a tracker counts as a drop
   * with the reason `rejected` and the ingest route answers in its `rejected` list, instead of
   * trimming entries no one has stored. At ~1 KB an activity, the default holds ~100 MB.
   * @default 100000
   */
  maxLength?: number
  /** Time limit of one append, in ms; a slower one answers `retryable` (the tracker or the client retries). @default 5000 */
  commandTimeoutMs?: number
  /** Names the sink in tracker stats, logs and errors. @default 'redis-stream' */
  name?: string
}

/**
 * Appends the batch (one entry per activity) within the bound of the backlog, atomically, in one
 * round trip. Backlog: for each consumer group, entries delivered but not acknowledged (`pending`)
 * plus entries not delivered yet (`lag`); the largest over the groups. With no group yet (no worker
 * started) every entry is backlog. `lag` is unknown only after entries were deleted from the middle
 * of the stream (XDEL); the stream's length stands in for it then.
 *
 * Then trims by id (`XTRIM MINID ~`), never by length: only the entries older than what any group
 * still needs (its oldest pending entry, else its last delivered one) go. A `MAXLEN` trim keeps the
 * newest entries, so one entry a worker holds behind `maxLength` newer, acknowledged ones would be
 * trimmed before any store held it. With no group nothing is trimmed: the backlog bound caps it.
 *
 * Returns how many activities it appended: the first ones of the batch.
 */
const APPEND_LUA = `
local stream = KEYS[1]
local maxLength = tonumber(ARGV[1])
local function older(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
local backlog = 0
local needed = false
if redis.call('EXISTS', stream) == 1 then
  local length = redis.call('XLEN', stream)
  local groups = redis.call('XINFO', 'GROUPS', stream)
  if #groups == 0 then backlog = length end
  for _, group in ipairs(groups) do
    local name, pending, lag, delivered = nil, 0, false, '0-0'
    for i = 1, #group, 2 do
      local field = group[i]
      if field == 'name' then name = group[i + 1]
      elseif field == 'pending' then pending = group[i + 1]
      elseif field == 'lag' then lag = group[i + 1]
      elseif field == 'last-delivered-id' then delivered = group[i + 1] end
    end
    if not lag then lag = length end
    if pending + lag > backlog then backlog = pending + lag end
    local oldest = delivered
    if pending > 0 then oldest = redis.call('XPENDING', stream, name)[2] end
    if not needed or older(oldest, needed) then needed = oldest end
  end
end
local appended = 0
for i = 2, #ARGV do
  if backlog + appended >= maxLength then break end
  redis.call('XADD', stream, '*', '${ACTIVITY_FIELD}', ARGV[i])
  appended = appended + 1
end
if needed then redis.call('XTRIM', stream, 'MINID', '~', needed) end
return appended
`
const APPEND_SCRIPT = { lua: APPEND_LUA, sha: createHash('sha1').update(APPEND_LUA).digest('hex') }

/**
 * A `Sink` that appends activities to a Redis Stream, a durable buffer between ingest and the
 * store: `createActivityHandler({ ingest: { sink: redisStreamSink({ client }) } })` answers 2xx once
 * Redis holds the activities, and {@link createStreamWorker} drains them into the store. A tracker
 * can deliver into it too (`createTracker({ sinks: [redisStreamSink({ client })] })`).
 *
 * Durable as Redis is: with `appendonly yes` and `appendfsync always` an acknowledged append
 * survives a Redis crash; with `everysec` (Redis's default once AOF is on) up to a second of appends
 * can be lost; without AOF, whatever came after the last snapshot. Order is not kept across
 * requests and workers; each activity carries its own `timestamp`.
 *
 * Results: `success` (with `rejected` for activities past the backlog bound, see `maxLength`);
 * `retryable` when Redis fails, is unreachable or is slower than `commandTimeoutMs`. A retried
 * append may duplicate an entry; the store's dedupe by `id` absorbs it.
 *
 * @param options - the client, the stream's name and bounds; see {@link RedisStreamSinkOptions}.
 * @throws TypeError naming the option when an option is invalid.
 */
export function redisStreamSink(options: RedisStreamSinkOptions): Sink {
  const client = requireOption(options.client, 'client', 'an ioredis Redis or Cluster client')
  const { stream } = streamKeys(options)
  const maxLength = positiveOption(options.maxLength, 'maxLength', 100_000, true)
  const commandTimeoutMs = positiveOption(options.commandTimeoutMs, 'commandTimeoutMs', 5000)
  const name = options.name ?? 'redis-stream'
  return {
    name,
    async write(batch: Activity[], { signal }): Promise<SinkResult> {
      if (signal?.aborted) return { type: 'retryable', error: signal.reason }
      if (batch.length === 0) return { type: 'success' }
      let appended: number
      try {
        appended = Number(await runScript(client, commandTimeoutMs, APPEND_SCRIPT, stream, [maxLength, ...batch.map((activity) => JSON.stringify(activity))]))
      } catch (error) {
        return { type: 'retryable', error: new SinkError(name, `Appending ${batch.length} activities to ${stream} failed; they will be retried.`, error) }
      }
      if (appended >= batch.length) return { type: 'success' }
      const error = `The Redis buffer ${stream} is full: its backlog reached maxLength (${maxLength}) because the worker is behind or stopped.`
      return { type: 'success', rejected: batch.slice(appended).map((activity) => ({ id: activity.id, error })) }
    },
  }
}
