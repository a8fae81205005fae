/**
 * usertracking past one machine, on Redis (ioredis, one server or a Cluster): a live bus that
 * shares each server instance's ingest with every other instance's streams (`redisLiveBus`), a
 * durable ingest buffer on a Redis Stream (`redisStreamSink`) and the worker that drains it into
 * any store (`createStreamWorker`).
 *
 * @packageDocumentation
 * @module @usertracking/redis
 */
export { redisLiveBus } from './redis-live-bus'
export type { RedisLiveBus, RedisLiveBusOptions } from './redis-live-bus'
export { redisStreamSink } from './redis-stream-sink'
export type { RedisStreamSinkOptions } from './redis-stream-sink'
export { createStreamWorker } from './stream-worker'
export type { StreamWorker, StreamWorkerOptions, StreamWorkerStats } from './stream-worker'
export { streamKeys, KEY_DEFAULTS } from './keys'
export type { StreamKeys, StreamKeyOptions } from './keys'
export { RedisCommandError } from './client'
export type { RedisClient } from './client'
