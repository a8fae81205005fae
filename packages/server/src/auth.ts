import type { Activity, ActivityFilter } from '@usertracking/core'
import { HttpError } from './errors'

/** Who is making a request, as `authenticate` says. */
export interface Principal {
  /** The signed-in user; a non-admin reads only this user's activities and writes only as this user. */
  userId: string
  /** Reads every user's activities and writes on anyone's behalf (an admin, or a trusted backend). @default false */
  admin?: boolean
}

/** What `authenticate` may answer: a principal, nobody, or a `Response` to send as is. */
export type AuthenticateResult = Principal | Response | null | undefined

/**
 * Says who sent a request: a {@link Principal}, `null` / `undefined` for nobody, or a `Response` to
 * answer with as is (a 401 with `WWW-Authenticate`, a 403). It may also throw an `HttpError`.
 */
export type Authenticate = (request: Request) => AuthenticateResult | Promise<AuthenticateResult>

/** The options of the handler that decide who may do what; see `ActivityHandlerOptions`. */
export interface AccessOptions {
  authenticate?: Authenticate | undefined
  allowAnonymousIngest?: boolean | undefined
  trustClientUserIds?: boolean | undefined
  insecureDevelopmentMode?: boolean | undefined
}

/** Who may read and write, decided per request. */
export interface Access {
  /** Who sent the request, `null` for nobody; `request` may be a function building it. */
  principal(request: Request | (() => Request)): Promise<Principal | null>
  /**
   * The principal of an ingest request, `null` for an anonymous one. `request` may be a function
   * building it, called only when there is an `authenticate` to give it to.
   */
  writer(request: Request | (() => Request)): Promise<Principal | null>
  /** The principal of a read; refuses anonymous reads with 401. */
  reader(request: Request): Promise<Principal>
  /** The query a principal may run: a non-admin's is narrowed to their own rows. */
  scope<T extends ActivityFilter>(query: T, principal: Principal): T
  /**
   * Makes each activity belong to whom it may: a non-admin's unnamed activities become theirs; an
   * activity naming another user, or naming a user in an anonymous request, is refused with 403.
   */
  claim(activities: Activity[], principal: Principal | null): void
}

/** The principal of a development server without authentication: everything is allowed. */
const DEVELOPER: Principal = { userId: 'insecure-development-mode', admin: true }

/** Builds the authorisation rules of a handler from its options. */
export function createAccess(options: AccessOptions): Access {
  const { authenticate } = options
  const development = options.insecureDevelopmentMode === true
  const trustClientUserIds = options.trustClientUserIds === true || development

  async function principalOf(request: Request | (() => Request)): Promise<Principal | null> {
    if (!authenticate) return development ? DEVELOPER : null
    const answer = await authenticate(typeof request === 'function' ? request() : request)
    if (answer instanceof Response) throw answer
    if (!answer) return development ? DEVELOPER : null
    if (typeof answer.userId !== 'string' || answer.userId === '') {
      // A bug in the app's hook, reported through onError with a 500: never a principal without a user.
      throw new TypeError('[usertracking] [server] authenticate returned a principal without a userId string; return { userId, admin? }, null, or a Response.')
    }
    return answer
  }

  return {
    principal: principalOf,
    async writer(request) {
      const principal = await principalOf(request)
      if (!principal && options.allowAnonymousIngest === false) throw new HttpError(401, 'Sign in to send activities.')
      return principal
    },
    async reader(request) {
      const principal = await principalOf(request)
      if (principal) return principal
      if (!authenticate) {
        throw new HttpError(
          401,
          'Reading activities needs a signed-in principal, and this server has no `authenticate` option: pass `authenticate: (request) => ({ userId, admin? }) | null` to createActivityHandler (or `insecureDevelopmentMode: true` on a development machine).',
        )
      }
      throw new HttpError(401, 'Sign in to read activities.')
    },
    scope(query, principal) {
      return principal.admin ? query : { ...query, userId: principal.userId }
    },
    claim(activities, principal) {
      if (principal?.admin) return
      for (const activity of activities) {
        if (!principal) {
          if (activity.userId !== undefined && !trustClientUserIds) {
            throw new HttpError(
              403,
              'An anonymous request cannot send activities as a user (userId); send anonymousId instead, sign the request in, or set `trustClientUserIds` on a server only trusted clients reach.',
            )
          }
        } else if (activity.userId === undefined) activity.userId = principal.userId
        else if (activity.userId !== principal.userId) throw new HttpError(403, 'You can only send activities as yourself.')
      }
    },
  }
}
