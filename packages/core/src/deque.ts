/** A FIFO queue; see {@link createDeque}. */
export interface Deque<T> {
  readonly length: number
  push(item: T): void
  peek(): T | undefined
  shift(): T | undefined
  /** Puts items back at the front, in the given order (for a batch that must be sent again). */
  unshiftAll(items: readonly T[]): void
}

/**
 * A FIFO queue with O(1) push, shift and drop-oldest. `Array.prototype.shift` moves every element,
 * which turns a 100k-event burst into billions of moves; this keeps a head index instead and
 * compacts only when the dead prefix outgrows the live part.
 */
export function createDeque<T>(): Deque<T> {
  let items: (T | undefined)[] = []
  let head = 0
  return {
    get length() {
      return items.length - head
    },
    push(item) {
      items.push(item)
    },
    peek: () => items[head],
    shift() {
      if (head >= items.length) return undefined
      const item = items[head]
      items[head++] = undefined
      if (head > 1024 && head * 2 > items.length) {
        items = items.slice(head)
        head = 0
      }
      return item
    },
    unshiftAll(batch) {
      // A copy, O(n): it happens after a failed write or at start-up, never per activity.
      items = [...batch, ...items.slice(head)]
      head = 0
    },
  }
}
