import { isPlainObject, type Store } from '@usertracking/core'
import type { Access } from './auth'
import { readJsonBody, type BodyLimits } from './body'
import { HttpError, type JsonAnswer } from './errors'
import type { StoreCaller } from './store-call'

/** What the identify route needs from its handler. */
export interface IdentifyDependencies {
  store: Store
  access: Access
  body: BodyLimits
  storeCaller: StoreCaller
  /** `insecureDevelopmentMode`: the body's `userId` is taken as is. */
  development: boolean
}

/** The longest id the activity schema accepts (`userId`, `anonymousId`). */
const MAX_ID_LENGTH = 256

function idField(body: Record<string, unknown>, names: string[]): string | undefined {
  for (const name of names) {
    const value = body[name]
    if (value === undefined) continue
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
      throw new HttpError(400, 'The request is invalid; each issue names its field.', {
        issues: [{ path: [name], message: `Expected a string of 1 to ${MAX_ID_LENGTH} characters.` }],
      })
    }
    return value
  }
  return undefined
}

/**
 * The identify route: a signed-in user links their own user id to the anonymous id they had
 * before signing in (`{ anonymousId }`), so `store.identify` attributes that visitor's activities,
 * past and future, to them. Nobody links another user's id: a `userId` in the body must be the
 * caller's own, admins included. Only `application/json` is accepted: a cross-site form or beacon
 * (which cannot send that type without a CORS preflight) must not link a signed-in victim's id to
 * an anonymous id of the attacker's choosing.
 */
export function createIdentifyRoute(deps: IdentifyDependencies): (request: Request) => Promise<JsonAnswer> {
  const { store, access } = deps
  return async (request) => {
    const principal = await access.principal(request)
    if (!principal) throw new HttpError(401, 'Sign in to link an anonymous id to your user id.')
    const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
    if (type !== 'application/json') throw new HttpError(415, 'Send { "anonymousId": … } as application/json.')
    const body = await readJsonBody(request, deps.body)
    if (!body.ok) throw new HttpError(body.status, body.message)
    if (!isPlainObject(body.value)) throw new HttpError(400, 'Send { "anonymousId": … }.')
    const anonymousId = idField(body.value, ['anonymousId', 'anonymous_id'])
    if (anonymousId === undefined) {
      throw new HttpError(400, 'The request is invalid; each issue names its field.', { issues: [{ path: ['anonymousId'], message: 'Required: the anonymous id to link.' }] })
    }
    const named = idField(body.value, ['userId', 'user_id'])
    const own = deps.development && named !== undefined ? named : principal.userId
    if (named !== undefined && named !== own) throw new HttpError(403, 'You can only link your own user id.')
    const identify = store.identify?.bind(store)
    if (!identify) throw new HttpError(501, `The ${store.name} store cannot link identities (it has no identify).`)
    const result = await deps.storeCaller.run(() => identify({ userId: own, anonymousId }))
    return { status: 200, body: { linked: result.linked } }
  }
}
