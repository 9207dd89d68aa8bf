/** setTimeout's delay is a signed 32-bit number of ms: anything longer would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * Deadlines are grouped into slots this long and fire at the end of theirs: up to this much late.
 * Access tokens expire in whole seconds and are accepted 30 s past that, so 100 ms late is nothing.
 */
export const SLOT_MS = 100;

/** What `schedule` returns; `cancel` needs it back. */
export type DeadlineTicket = number;

/** An item of the instance's shared deadlines (app.ts): a socket or a subscription that ends at its token's expiry. */
export interface Expiring {
  expire(): void;
}

/**
 * Many items, each due after its own real-time delay, on one timer: `onDue(item)` runs for each at its
 * deadline, in the order scheduled within a slot. An item costs one set entry rather than a timer of
 * its own, which adds up at one per open socket and one per subscription.
 */
export class Deadlines<T> {
  readonly #slots = new Map<number, Set<T>>();
  /** The slots' numbers as a binary min-heap, each once; a slot emptied by `cancel` stays until it comes up. */
  readonly #heap: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The slot the timer is armed for. */
  #armedFor = Infinity;

  constructor(private readonly onDue: (item: T) => void) {}

  get size(): number {
    let size = 0;
    for (const items of this.#slots.values()) size += items.size;
    return size;
  }

  schedule(item: T, delayMs: number): DeadlineTicket {
    const slot = Math.ceil((performance.now() + Math.max(0, delayMs)) / SLOT_MS);
    let items = this.#slots.get(slot);
    if (!items) {
      items = new Set();
      this.#slots.set(slot, items);
      push(this.#heap, slot);
      if (slot < this.#armedFor) this.#arm(slot);
    }
    items.add(item);
    return slot;
  }

  /**
   * The slot's set stays, even empty, until the slot comes up: dropped, the next item of that slot
   * would push the slot onto the heap again, once per schedule-and-cancel of the same deadline.
   */
  cancel(item: T, ticket: DeadlineTicket): void {
    this.#slots.get(ticket)?.delete(item);
  }

  /** Slots waiting to come up (the heap's entries), empty ones included: for leak checks. */
  get slotCount(): number {
    return this.#heap.length;
  }

  /** Forgets every item; nothing fires any more. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    this.#slots.clear();
    this.#heap.length = 0;
  }

  #arm(slot: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = slot;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, slot * SLOT_MS - performance.now()));
    this.#timer = setTimeout(() => this.#fire(), delay);
    // Like any deadline of a socket or stream: it must not keep the process alive by itself.
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = performance.now();
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]! * SLOT_MS <= now) {
      const slot = pop(heap);
      const items = this.#slots.get(slot);
      if (!items) continue;
      this.#slots.delete(slot);
      for (const item of items) this.onDue(item);
    }
    // onDue may have scheduled (and armed) already; only a later slot needs arming here.
    if (heap.length > 0 && heap[0]! < this.#armedFor) this.#arm(heap[0]!);
  }
}

function push(heap: number[], value: number): void {
  let index = heap.push(value) - 1;
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[index] = heap[parent]!;
    index = parent;
  }
  heap[index] = value;
}

function pop(heap: number[]): number {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length === 0) return top;
  let index = 0;
  for (;;) {
    const left = 2 * index + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && heap[right]! < heap[left]! ? right : left;
    if (heap[child]! >= last) break;
    heap[index] = heap[child]!;
    index = child;
  }
  heap[index] = last;
  return top;
}
