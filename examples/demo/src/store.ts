import { memoryStore, type Store } from '@usertracking/core'

/** The store the demo writes to and reads from. */
export async function openStore(): Promise<{ store: Store; label: string; close: () => Promise<void> }> {
  return { store: memoryStore(), label: 'in memory', close: async () => {} }
}
