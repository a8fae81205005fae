/**
 * `run`, unable to throw: an error (only ever a bug, in this package or in a page's odd globals)
 * goes to `report` and the call returns `undefined`. A tracking bug must never become the host
 * page's bug.
 */
export function guard<A extends unknown[], R>(run: (...args: A) => R, report: (error: unknown) => void): (...args: A) => R | undefined {
  return (...args) => {
    try {
      return run(...args)
    } catch (error) {
      report(error)
    }
  }
}

/** Replaces every method of `api` by its {@link guard}ed self, and returns `api`. */
export function guardAll<T extends object>(api: T, report: (error: unknown) => void): T {
  for (const [name, method] of Object.entries(api)) (api as Record<string, unknown>)[name] = guard(method as () => unknown, report)
  return api
}
