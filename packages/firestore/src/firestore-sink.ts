import type { Activity, RejectedActivity, Sink, SinkResult, SinkWriteOptions } from '@usertracking/core'
import type { FirestoreAdapter, NewDocument } from './adapter'
import { expiryOf, timeProblem } from './document'
import { classifyError, describeError, FirestoreStoreError, type ErrorKind } from './errors'
import { screenBatch } from './identity'
import { documentPath, isValidId, ownerId, type Layout } from './layout'

/** Firestore's limit on writes in one commit or transaction. */
export const MAX_BATCH_SIZE = 500

/** Why a write stopped: how the whole batch is answered, with the SDK's error. */
class WriteFailure {
  constructor(
    readonly kind: Exclude<ErrorKind, 'document'>,
    readonly cause: unknown,
  ) {}
}

/** Why Firestore would refuse this activity's document before any round trip, or undefined. */
function documentProblem(activity: Activity): string | undefined {
  if (typeof activity?.id !== 'string' || !isValidId(activity.id)) return 'id is not a valid Firestore document id.'
  if (!isValidId(ownerId(activity))) return 'userId / anonymousId is too long for a Firestore document id (1500 bytes).'
  return timeProblem('timestamp', activity.timestamp) ?? timeProblem('endTime', activity.endTime) ?? timeProblem('receivedAt', activity.receivedAt)
}

/**
 * Settles as `promise` does, or fails as retryable as soon as `signal` aborts (the tracker's write
 * timeout): a commit still in flight may land later, which a retry then finds stored.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new WriteFailure('retryable', signal.reason))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/**
 * The batch writer behind `firestoreStore(…).sink`. Each batch is written in commits of at most
 * `batchSize` documents, one after the other; each commit creates only documents that do not
 * exist yet, so a retried batch is a no-op and the first write of an id is the one kept.
 *
 * A commit refused for its content (invalid argument, out of range, or the security rules'
 * permission denied) is split in halves until the refused documents are alone: those come back in
 * `rejected` and every other document is stored. Unavailable, deadline exceeded, resource
 * exhausted, aborted and unknown errors make the batch `retryable`.
 */
export function createFirestoreSink(
  adapter: FirestoreAdapter,
  layout: Layout,
  options: { batchSize: number; tombstoneMs: number; now: () => number; maxAgeMs: number | undefined },
): Sink {
  const { batchSize, tombstoneMs, now, maxAgeMs } = options
  async function writeDocuments(documents: readonly NewDocument[], signal: AbortSignal | undefined): Promise<RejectedActivity[]> {
    try {
      await untilAborted(adapter.createMissing(documents, now()), signal)
      return []
    } catch (error) {
      if (error instanceof WriteFailure) throw error
      const kind = classifyError(error)
      if (kind !== 'document') throw new WriteFailure(kind, error)
      if (documents.length === 1) return [{ id: documents[0]!.activity.id, error: describeError(error) }]
      if (signal?.aborted) throw new WriteFailure('retryable', signal.reason)
      const middle = documents.length >>> 1
      const left = await writeDocuments(documents.slice(0, middle), signal)
      return left.concat(await writeDocuments(documents.slice(middle), signal))
    }
  }

  return {
    name: 'firestore',
    async write(batch: Activity[], options?: SinkWriteOptions): Promise<SinkResult> {
      const signal = options?.signal
      if (signal?.aborted) return { type: 'retryable', error: signal.reason }
      const rejected: RejectedActivity[] = []
      const accepted: Activity[] = []
      const seen = new Set<string>()
      for (const activity of batch) {
        const problem = documentProblem(activity)
        if (problem !== undefined) rejected.push({ id: String(activity?.id), error: problem })
        // The same id twice in one batch: the first is the one stored, as across batches.
        else if (!seen.has(activity.id)) {
          seen.add(activity.id)
          accepted.push(activity)
        }
      }
      try {
        const nowMs = now()
        const screened = await untilAborted(screenBatch(adapter, layout, accepted, nowMs, tombstoneMs), signal)
        rejected.push(...screened.rejected)
        const documents: NewDocument[] = screened.batch.map((activity) =>
          maxAgeMs === undefined
            ? { path: documentPath(layout, activity), activity }
            : { path: documentPath(layout, activity), activity, expireAtMs: expiryOf(activity, nowMs, maxAgeMs) },
        )
        for (let start = 0; start < documents.length; start += batchSize) {
          if (signal?.aborted) throw new WriteFailure('retryable', signal.reason)
          rejected.push(...(await writeDocuments(documents.slice(start, start + batchSize), signal)))
        }
      } catch (caught) {
        const failure = caught instanceof WriteFailure ? caught : new WriteFailure('retryable', caught)
        const error = new FirestoreStoreError(
          `Writing ${batch.length} activities under ${layout.collection} through ${adapter.sdk} failed: ${describeError(failure.cause)}`,
          { cause: failure.cause },
        )
        return failure.kind === 'permanent' ? { type: 'failure', error } : { type: 'retryable', error }
      }
      return rejected.length > 0 ? { type: 'success', rejected } : { type: 'success' }
    },
  }
}
