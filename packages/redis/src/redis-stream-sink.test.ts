import { createTracker, uuidv7, type Activity } from '@usertracking/core'
import { afterAll, describe, expect, it } from 'vitest'
import { closeClients, createClient, deletePrefix, uniquePrefix } from '../test/clients'
import { redisModes } from '../test/modes'
import { RedisCommandError } from './client'
import { streamKeys } from './keys'
import { redisStreamSink } from './redis-stream-sink'
import { freePort } from '../../../test/support/src/free-port'

afterAll(closeClients)

const signal = new AbortController().signal

function activity(index: number): Activity {
  return { id: uuidv7(), activityType: 'resume_generation', userId: `user-${index % 3}`, timestamp: new Date().toISOString(), metadata: { index } }
}

describe.each(redisModes())('redisStreamSink on $name', ({ target }) => {
  it.skipIf(!target)('appends one entry per activity to the prefixed, hash-tagged stream', async () => {
    const client = createClient(target!)
    const keyPrefix = uniquePrefix()
    const sink = redisStreamSink({ client, keyPrefix, stream: 'ingest' })
    const batch = [activity(1), activity(2), activity(3)]
    expect(await sink.write(batch, { signal })).toEqual({ type: 'success' })
    const key = `${keyPrefix}{ingest}`
    expect(streamKeys({ keyPrefix, stream: 'ingest' }).stream).toBe(key)
    const entries = (await client.xrange(key, '-', '+')) as [string, string[]][]
    expect(entries.map(([, fields]) => JSON.parse(fields[1]!) as Activity)).toEqual(batch)
    expect(entries.map(([, fields]) => fields[0])).toEqual(['activity', 'activity', 'activity'])
    await deletePrefix(client, keyPrefix)
  })

  it.skipIf(!target)('refuses what does not fit in maxLength as rejected, which a tracker counts as a drop, and takes more once a worker caught up', async () => {
    const client = createClient(target!)
    const keyPrefix = uniquePrefix()
    const sink = redisStreamSink({ client, keyPrefix, maxLength: 10 })
    const tracker = createTracker({ sinks: [sink], batchSize: 15, debounceTime: 0 })
    for (let index = 0; index < 15; index++) tracker.track({ activityType: 'click', metadata: { index } })
    await tracker.flush()
    expect(tracker.stats()).toMatchObject({ sent: 10, dropped: 5, droppedByReason: { rejected: 5 } })
    const { stream } = streamKeys({ keyPrefix })
    expect(await client.xlen(stream)).toBe(10)
    // The oldest ten are what the stream kept: nothing a worker has not read was trimmed.
    const kept = ((await client.xrange(stream, '-', '+')) as [string, string[]][]).map(([, fields]) => (JSON.parse(fields[1]!) as Activity).metadata!.index)
    expect(kept).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])

    // A consumer group that read and acknowledged everything: the backlog is empty again.
    await client.xgroup('CREATE', stream, 'workers', '0')
    const read = (await client.xreadgroup('GROUP', 'workers', 'one', 'COUNT', 100, 'STREAMS', stream, '>')) as [string, [string, string[]][]][]
    await client.xack(stream, 'workers', ...read[0]![1].map(([id]) => id))
    const more = [activity(1), activity(2)]
    expect(await sink.write(more, { signal })).toEqual({ type: 'success' })
    await tracker.shutdown()
    await deletePrefix(client, keyPrefix)
  })

  it.skipIf(!target)('never trims an entry a consumer still holds, however many newer ones are appended and acknowledged', async () => {
    const client = createClient(target!)
    const keyPrefix = uniquePrefix()
    const sink = redisStreamSink({ client, keyPrefix, maxLength: 10 })
    const { stream } = streamKeys({ keyPrefix })
    const held = activity(0)
    expect(await sink.write([held], { signal })).toEqual({ type: 'success' })
    await client.xgroup('CREATE', stream, 'workers', '0')
    // A worker took the first entry and hangs on it (a long store write, a stalled process).
    const taken = (await client.xreadgroup('GROUP', 'workers', 'slow', 'COUNT', 1, 'STREAMS', stream, '>')) as [string, [string, string[]][]][]
    const heldId = taken[0]![1][0]![0]
    // Meanwhile another worker keeps up with a burst of 600: the backlog stays under maxLength, so every append is taken.
    for (let round = 0; round < 120; round++) {
      expect(await sink.write([activity(1), activity(2), activity(3), activity(4), activity(5)], { signal })).toEqual({ type: 'success' })
      const read = (await client.xreadgroup('GROUP', 'workers', 'fast', 'COUNT', 100, 'STREAMS', stream, '>')) as [string, [string, string[]][]][]
      await client.xack(stream, 'workers', ...read[0]![1].map(([id]) => id))
    }
    const kept = (await client.xrange(stream, heldId, heldId)) as [string, string[]][]
    expect(kept.map(([, fields]) => (JSON.parse(fields[1]!) as Activity).id)).toEqual([held.id])
    // What every group acknowledged before the held entry's time is trimmed: the stream does not grow without bound.
    await client.xack(stream, 'workers', heldId)
    expect(await sink.write([activity(6)], { signal })).toEqual({ type: 'success' })
    expect(await client.xlen(stream)).toBeLessThan(200)
    await deletePrefix(client, keyPrefix)
  })
})

describe('redisStreamSink without Redis', () => {
  it('answers retryable, so the tracker keeps the batch', async () => {
    const client = createClient({ mode: 'standalone', server: { host: '127.0.0.1', port: await freePort() } }, { retryDelayMs: 50 })
    const sink = redisStreamSink({ client, commandTimeoutMs: 200 })
    const result = await sink.write([activity(1)], { signal })
    expect(result.type).toBe('retryable')
    const error = (result as { error: Error }).error
    expect(error.message).toMatch(/Appending 1 activities to usertracking:\{activities\} failed/)
    // The cause names the command: sent to a Redis that refuses connections, or not sent at all once ioredis knows it is away.
    expect(RedisCommandError.isInstance(error.cause)).toBe(true)
    expect((error.cause as Error).message).toMatch(/^\[usertracking\] \[redis\] (EVALSHA failed|EVALSHA did not answer within 200 ms|EVALSHA not sent: the connection to Redis is)/)
  })

  it('names the option it cannot use', () => {
    const client = createClient({ mode: 'standalone', server: { host: '127.0.0.1', port: 1 } })
    expect(() => redisStreamSink({ client, maxLength: 0 })).toThrow('[usertracking] [redis] options.maxLength must be a positive whole number; got 0.')
    expect(() => redisStreamSink({ client, stream: 'a{b}' })).toThrow(/options.stream must not contain braces/)
    expect(() => redisStreamSink({} as never)).toThrow('[usertracking] [redis] options.client is required')
  })
})
