/** The routes of the activity handler; each answers at the paths the route table gives it. */
export type RouteName =
  | 'ingest'
  | 'event'
  | 'list'
  | 'stats'
  | 'export'
  | 'stream'
  | 'identify'
  | 'personalDataExport'
  | 'personalDataDelete'

/** Paths of one route under `basePath`: one, several, or `false` to turn the route off. */
export type RoutePaths = string | readonly string[] | false

/**
 * Where each route answers, relative to `basePath`. A route named here answers at these paths
 * only; a route left out keeps its default paths. Two routes may share a path when their methods
 * differ (`personalDataExport` and `personalDataDelete` do).
 *
 * | route | method | default paths | answers |
 * | --- | --- | --- | --- |
 * | `ingest` | POST | `/activity` | 200 `{ accepted, ids }` |
 * | `event` | POST | `/event` | 201 `{ accepted, ids }` |
 * | `list` | GET | `/activities`, `/events` | a page of activities |
 * | `stats` | GET | `/activities/stats` | aggregates |
 * | `export` | GET | `/activities/export` | every matching activity, streamed |
 * | `stream` | GET | `/activities/stream` | Server-Sent Events |
 * | `identify` | POST | `/identify` | 200 `{ linked }`: the signed-in user's id linked to an anonymous id |
 * | `personalDataExport` | GET | `/personal-data` | one person's activities, streamed |
 * | `personalDataDelete` | DELETE | `/personal-data` | 200 `{ deleted }`: one person's activities deleted |
 */
export type RouteTable = Partial<Record<RouteName, RoutePaths>>

/** The default route table. */
export const DEFAULT_ROUTES: Readonly<Record<RouteName, readonly string[]>> = {
  ingest: ['/activity'],
  event: ['/event'],
  list: ['/activities', '/events'],
  stats: ['/activities/stats'],
  export: ['/activities/export'],
  stream: ['/activities/stream'],
  identify: ['/identify'],
  personalDataExport: ['/personal-data'],
  personalDataDelete: ['/personal-data'],
}

/** The methods routes answer to. */
export type RouteMethod = 'GET' | 'POST' | 'DELETE'

/** What a path and method resolve to. */
export interface MatchedRoute {
  name: RouteName | 'metrics'
  method: RouteMethod
  /** The full path, as matched; the `route` label of the metrics. */
  path: string
}

/** The routes at one path, by method. */
export interface RoutesAtPath {
  /** The full path; the `route` label of the metrics. */
  path: string
  /** The route each method reaches. */
  methods: Partial<Record<RouteMethod, MatchedRoute>>
  /** The methods answered here, for `Allow` and CORS preflights (`GET, DELETE`). */
  allow: string
}

const METHODS: Record<RouteName | 'metrics', RouteMethod> = {
  ingest: 'POST',
  event: 'POST',
  list: 'GET',
  stats: 'GET',
  export: 'GET',
  stream: 'GET',
  identify: 'POST',
  personalDataExport: 'GET',
  personalDataDelete: 'DELETE',
  metrics: 'GET',
}

/** A path without its trailing slashes (but `/` stays `/`). */
export function trimPath(path: string): string {
  const trimmed = path.replace(/\/+$/, '')
  return trimmed === '' ? '/' : trimmed
}

const VALID_PATH = /^\/[\w\-./~%@:+]*$/

/**
 * The full path → routes map of a handler, checked once at construction: every path starts with
 * `/`, holds no query or fragment, and belongs to one route per method.
 *
 * @throws TypeError naming the option at fault.
 */
export function buildRouteTable(basePath: string, routes: RouteTable, metricsPath: string | undefined): Map<string, RoutesAtPath> {
  const table = new Map<string, RoutesAtPath>()
  const add = (name: RouteName | 'metrics', path: string, option: string) => {
    if (typeof path !== 'string' || !VALID_PATH.test(path)) {
      throw new TypeError(`[usertracking] [server] ${option} must be a path starting with "/" (no query or fragment); got ${JSON.stringify(path)}.`)
    }
    const full = trimPath(name === 'metrics' ? path : `${basePath}${path}`)
    const method = METHODS[name]
    const entry = table.get(full) ?? { path: full, methods: {}, allow: '' }
    const taken = entry.methods[method]
    if (taken) throw new TypeError(`[usertracking] [server] ${option}: ${method} ${full} is already the ${taken.name} route.`)
    entry.methods[method] = { name, method, path: full }
    entry.allow = Object.keys(entry.methods).join(', ')
    table.set(full, entry)
  }
  for (const name of Object.keys(routes) as RouteName[]) {
    if (!(name in DEFAULT_ROUTES)) {
      throw new TypeError(`[usertracking] [server] options.routes.${name} is not a route; the routes are ${Object.keys(DEFAULT_ROUTES).join(', ')}.`)
    }
  }
  for (const name of Object.keys(DEFAULT_ROUTES) as RouteName[]) {
    const given = routes[name]
    if (given === false) continue
    const paths = given === undefined ? DEFAULT_ROUTES[name] : typeof given === 'string' ? [given] : given
    if (!Array.isArray(paths)) throw new TypeError(`[usertracking] [server] options.routes.${name} must be a path, a list of paths or false.`)
    for (const path of paths) add(name, path, `options.routes.${name}`)
  }
  if (metricsPath !== undefined) add('metrics', metricsPath, 'options.metrics.path')
  return table
}
