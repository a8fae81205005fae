import { backoffDelay, unref } from '@usertracking/core'
import type { StoredDocument } from './adapter'
import { STORED_AT } from './document'
import { describeError, FirestoreStoreError } from './errors'

/** The first re-listen waits up to this long, in ms (full jitter); each failure in a row doubles it. */
export const RELISTEN_BASE_MS = 1000
/** No re-listen waits longer than this, in ms, however many failures in a row. */
export const RELISTEN_MAX_MS = 60_000

/** What {@link listenAgainOnError} needs. */
export interface RelistenSettings {
  /** Starts one listener on documents stored at or after `sinceMs`; returns its stop function. */
  listen: (sinceMs: number, onAdded: (documents: StoredDocument[]) => void, onError: (error: unknown) => void) => () => void
  /** Where the first listener starts, in Unix ms. */
  sinceMs: number
  /** How far before a failure a new listener looks back, in ms, as the first one did (`liveLookbackMs`). */
  lookbackMs: number
  /** Names what is listened to in error messages. */
  describe: string
  /** The store's clock, in Unix ms. */
  now: () => number
  /** Receives the documents added, each once however many listeners saw it. */
  onDocuments: (documents: StoredDocument[]) => void
  /** Receives each failure as a `FirestoreStoreError` (the SDK's error as `cause`); must not throw. */
  onError: (error: FirestoreStoreError) => void
}

function storedAtMs(document: StoredDocument, fallback: number): number {
  const value = document.data[STORED_AT] as { toMillis?: () => number } | null | undefined
  return typeof value?.toMillis === 'function' ? value.toMillis() : fallback
}

/**
 * Keeps a live listener going: Firestore ends a snapshot listener for good when it fails (the
 * rules refuse the read, an index is missing, the backend restarted and lost the stream), so each
 * failure is reported and a new listener started after a capped, fully jittered backoff
 * ({@link RELISTEN_BASE_MS} doubling up to {@link RELISTEN_MAX_MS}; reset once a listener
 * answers). The new one starts `lookbackMs` before the failure of the last listener that answered
 * (where the first one started, if none did), so activities written while no listener ran are
 * pushed too; those the previous listeners already pushed are not pushed again.
 * Returns the stop function, which also cancels a pending re-listen.
 */
export function listenAgainOnError(settings: RelistenSettings): () => void {
  const { listen, lookbackMs, now, onDocuments, onError } = settings
  /** Paths pushed, with their `storedAt`: those a later listener's lookback can see again. */
  const pushed = new Map<string, number>()
  let failures = 0
  let stopped = false
  let stopCurrent: (() => void) | undefined
  let timer: ReturnType<typeof setTimeout> | undefined

  /** Where the next listener starts: up to there, listeners that answered have pushed everything. */
  let resumeFromMs = settings.sinceMs

  const onAdded = (documents: StoredDocument[]) => {
    const at = now()
    const fresh = documents.filter((document) => !pushed.has(document.path))
    for (const document of fresh) pushed.set(document.path, storedAtMs(document, at))
    // Once a listener answered, no later one starts before this one's failure, less the lookback.
    for (const [path, storedAt] of pushed) if (storedAt < at - lookbackMs) pushed.delete(path)
    if (fresh.length > 0) onDocuments(fresh)
  }

  const start = (sinceMs: number) => {
    let answered = false
    let failed = false
    const onListenerAdded = (documents: StoredDocument[]) => {
      if (stopped || failed) return
      answered = true
      failures = 0
      onAdded(documents)
    }
    const onListenerError = (error: unknown) => {
      if (stopped || failed) return
      failed = true
      stopCurrent?.()
      stopCurrent = undefined
      failures++
      // A listener that never answered pushed nothing: the next one starts where it did.
      if (answered) resumeFromMs = now() - lookbackMs
      const delay = backoffDelay(failures, RELISTEN_BASE_MS, RELISTEN_MAX_MS)
      onError(
        new FirestoreStoreError(`The live listener on ${settings.describe} failed: ${describeError(error)}; it listens again in ${delay} ms.`, {
          cause: error,
        }),
      )
      timer = unref(setTimeout(() => start(resumeFromMs), delay))
    }
    try {
      stopCurrent = listen(sinceMs, onListenerAdded, onListenerError)
    } catch (error) {
      onListenerError(error)
    }
  }

  start(settings.sinceMs)
  return () => {
    stopped = true
    clearTimeout(timer)
    stopCurrent?.()
    stopCurrent = undefined
  }
}
