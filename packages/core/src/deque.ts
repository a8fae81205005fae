/**
 * A FIFO queue with O(1) push, shift and drop-oldest. `Array.prototype.shift` moves every element,
 * which turns a 100k-event burst into billions of moves; this keeps a head index instead and
 * compacts only when the dead prefix outgrows the live part.
 */
export class Deque<T> {
  private items: (T | undefined)[] = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(item: T): void {
    this.items.push(item)
  }

  peek(): T | undefined {
    return this.items[this.head]
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** Puts items back at the front, in the given order (for a batch that must be sent again). */
  unshiftAll(items: readonly T[]): void {
    // A copy, O(n): it happens after a failed write or at start-up, never per activity.
    this.items = [...items, ...this.items.slice(this.head)]
    this.head = 0
  }
}
