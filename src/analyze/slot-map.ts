/**
 * Per-flow state of an analyzer, indexed by flow slot. Slots are small dense integers, so an
 * array beats a Map on the packet path (no hashing, one indexed load). The array grows by
 * filling to the slot asked for: a write far past its end would turn it into a dictionary,
 * which V8 then hashes on every access.
 */
export class SlotMap<T> {
  private items: (T | undefined)[] = [];
  private count = 0;

  get(slot: number): T | undefined {
    return slot < this.items.length ? this.items[slot] : undefined;
  }

  set(slot: number, v: T): void {
    const items = this.items;
    if (slot >= items.length) {
      let n = Math.max(64, items.length);
      while (n <= slot) n *= 2;
      for (let i = items.length; i < n; i++) items.push(undefined);
    }
    if (items[slot] === undefined) this.count++;
    items[slot] = v;
  }

  delete(slot: number): void {
    if (slot < this.items.length && this.items[slot] !== undefined) {
      this.items[slot] = undefined;
      this.count--;
    }
  }

  clear(): void {
    this.items = [];
    this.count = 0;
  }

  get size(): number {
    return this.count;
  }
}
