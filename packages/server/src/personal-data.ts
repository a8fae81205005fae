import type { DeletionSubject, Sink, Store } from '@usertracking/core'
import type { Access, Principal } from './auth'
import { deletionRecord } from './deletion-record'
import { HttpError, queryError, type JsonAnswer } from './errors'
import { streamExport } from './export-stream'
import { parsePersonQuery, type QueryOptions } from './query'
import type { StoreCaller } from './store-call'

/** What the personal-data routes need from their handler. */
export interface PersonalDataDependencies {
  store: Store
  /** Where deletion records are written. */
  sink: Sink
  access: Access
  storeCaller: StoreCaller
  query: QueryOptions
  /** The HMAC key of deletion records' hashes; see `ActivityHandlerOptions.deletionHashKey`. */
  hashKey: string | undefined
  onError: (error: unknown) => void
  now: () => number
}

/**
 * The person a request is about: a non-admin is always themselves (naming anyone else is 403, never
 * quietly narrowed: a deletion aimed at someone else must not delete the caller); an admin names a
 * `userId` or an `anonymousId`, or is themselves when naming no one.
 */
function subjectOf(principal: Principal, query: { userId?: string; anonymousId?: string }): DeletionSubject {
  if (principal.admin) {
    if (query.anonymousId !== undefined) return { anonymousId: query.anonymousId }
    return { userId: query.userId ?? principal.userId }
  }
  if (query.anonymousId !== undefined) {
    throw new HttpError(403, 'Only an admin can name an anonymous id here; a signed-in user exports and deletes their own activities (linked anonymous activity included).')
  }
  if (query.userId !== undefined && query.userId !== principal.userId) throw new HttpError(403, 'You can only export or delete your own activities.')
  return { userId: principal.userId }
}

/**
 * The personal-data routes, for a person's right of access and erasure: `GET` streams every
 * activity of one person (as the export route does), `DELETE` deletes them through
 * `store.deleteActivities` and records the deletion as a `data_deletion` activity that names no one
 * (see `deletionRecord`). Both need a signed-in principal.
 */
export function createPersonalDataRoutes(deps: PersonalDataDependencies): {
  export(request: Request, url: URL): Promise<Response>
  delete(request: Request, url: URL): Promise<JsonAnswer>
} {
  const { store, access, storeCaller } = deps

  async function person(request: Request, url: URL, withFormat: boolean) {
    const principal = await access.reader(request)
    const parsed = parsePersonQuery(url.searchParams, deps.query, withFormat)
    if (!parsed.ok) throw queryError(parsed.issues)
    return { principal, subject: subjectOf(principal, parsed.query), format: parsed.query.format }
  }

  /** Writes the record of a finished deletion; a failure is reported, never thrown (the deletion is done). */
  async function record(subject: DeletionSubject, principal: Principal, deleted: number): Promise<void> {
    const failed = (cause: unknown) =>
      deps.onError(new Error(`[usertracking] [server] ${deleted} activities were deleted, but the record of that deletion could not be written.`, { cause }))
    try {
      const activity = await deletionRecord(subject, principal.userId, deleted, deps.hashKey, deps.now())
      const result = await storeCaller.run((signal) => deps.sink.write([activity], { signal }))
      if (result.type !== 'success' || result.rejected?.length) failed(result)
    } catch (error) {
      failed(error)
    }
  }

  return {
    async export(request, url) {
      const { subject, format } = await person(request, url, true)
      return streamExport(deps, subject, format, 'personal-data')
    },

    async delete(request, url) {
      const { principal, subject } = await person(request, url, false)
      const deleteActivities = store.deleteActivities?.bind(store)
      if (!deleteActivities) throw new HttpError(501, `The ${store.name} store cannot delete activities (it has no deleteActivities).`)
      // Recorded when the deletion ends, even after the client was answered 503 for a slow store:
      // what was deleted is deleted, and its record must not depend on who was still waiting.
      const work = deleteActivities(subject).then(async ({ deleted }) => {
        await record(subject, principal, deleted)
        return deleted
      })
      const deleted = await storeCaller.run(() => work)
      return { status: 200, body: { deleted } }
    },
  }
}
