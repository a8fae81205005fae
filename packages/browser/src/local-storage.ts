/** Prefix of every `localStorage` key this package writes. */
export const PREFIX = 'usertracking:'

/** Reads `usertracking:<key>`: `null` when absent, `undefined` when storage is blocked. */
export function readLocal(key: string): string | null | undefined {
  try {
    return localStorage.getItem(PREFIX + key)
  } catch {
    // Storage disabled (blocked cookies, some private modes): callers fall back to memory.
  }
}

/** Writes (or, with `undefined`, removes) `usertracking:<key>`; does nothing when storage is blocked. */
export function writeLocal(key: string, value: string | undefined): void {
  try {
    if (value === undefined) localStorage.removeItem(PREFIX + key)
    else localStorage.setItem(PREFIX + key, value)
  } catch {
    // See readLocal().
  }
}

/** The keys (without the prefix) that start with `usertracking:<start>`. */
export function localKeys(start: string): string[] {
  try {
    return Object.keys(localStorage)
      .filter((key) => key.startsWith(PREFIX + start))
      .map((key) => key.slice(PREFIX.length))
  } catch {
    return []
  }
}
