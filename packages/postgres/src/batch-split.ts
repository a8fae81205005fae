import type { RejectedActivity, SinkResult } from '@usertracking/core'
import { classifyError, describeError, PostgresStoreError, type ErrorKind } from './errors'

/** A write that failed for the whole batch: retry it, or give it up. */
export class WriteFailure {
  constructor(
    readonly kind: Exclude<ErrorKind, 'data'>,
    readonly cause: unknown,
  ) {}
}

/**
 * Writes `rows` with `writeOnce`, and when the database refuses some row's content (a data error,
 * see `classifyError`) splits the batch in halves until the refused rows are alone: those come
 * back as rejected, everything else is stored. Any other failure throws a {@link WriteFailure}.
 * `failure` is the error of an attempt already made with exactly these rows; `retry` then decides
 * whether it is worth a second one (it throws the error back otherwise).
 */
export async function writeSplitting<R extends { id: string }>(
  rows: readonly R[],
  writeOnce: (rows: readonly R[]) => Promise<void>,
  signal: AbortSignal | undefined,
  failure?: { error: unknown; retry: (rows: readonly R[]) => Promise<void> },
): Promise<RejectedActivity[]> {
  let error: unknown
  try {
    if (failure === undefined) await writeOnce(rows)
    else await failure.retry(rows)
    return []
  } catch (caught) {
    error = caught
  }
  const kind = classifyError(error)
  if (kind !== 'data') throw new WriteFailure(kind, error)
  if (rows.length === 1) return [{ id: rows[0]!.id, error: describeError(error) }]
  if (signal?.aborted) throw new WriteFailure('retryable', signal.reason)
  const middle = rows.length >>> 1
  const left = await writeSplitting(rows.slice(0, middle), writeOnce, signal)
  return left.concat(await writeSplitting(rows.slice(middle), writeOnce, signal))
}

/**
 * The answer to a write that needs no database: aborted before it started (retryable, nothing
 * written) or empty (success); `undefined` when there is work to do.
 */
export function answeredWithoutWriting(batch: readonly unknown[], signal: AbortSignal | undefined): SinkResult | undefined {
  if (signal?.aborted) return { type: 'retryable', error: signal.reason }
  if (Array.isArray(batch) && batch.length === 0) return { type: 'success' }
  return undefined
}

/** The {@link SinkResult} of a write that threw: retryable or permanent, with a sentence naming the table. */
export function failedWrite(caught: unknown, count: number, table: string, driver: string): SinkResult {
  const failure = caught instanceof WriteFailure ? caught : new WriteFailure(classifyError(caught) === 'permanent' ? 'permanent' : 'retryable', caught)
  const error = new PostgresStoreError(`Writing ${count} activities to ${table} through ${driver} failed: ${describeError(failure.cause)}`, {
    cause: failure.cause,
  })
  return failure.kind === 'retryable' ? { type: 'retryable', error } : { type: 'failure', error }
}
