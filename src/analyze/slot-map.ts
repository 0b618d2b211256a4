/**
 * Per-flow state of an analyzer, indexed by flow slot. Slots are small dense integers, so an
 * array beats a Map on the packet path (no hashing, one indexed load).
 */
export class SlotMap<T> {
  private items: (T | undefined)[] = [];
  private count = 0;

  get(slot: number): T | undefined {
    return this.items[slot];
  }

  set(slot: number, v: T): void {
    if (this.items[slot] === undefined) this.count++;
    this.items[slot] = v;
  }

  delete(slot: number): void {
    if (this.items[slot] !== undefined) {
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
