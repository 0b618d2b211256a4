/**
 * Failed sign-ins, per user name and per source address. After `threshold` failures inside the
 * window the key is locked for base·2^(failures − threshold) seconds, up to max: each further
 * failure doubles the wait. User names are tracked whether or not the user exists, so a lock
 * says nothing about which names are real. Memory is bounded: beyond `maxKeys` the key least
 * recently failed is forgotten (and counted).
 */
export interface LockoutLimits {
  threshold: number;
  baseMs: number;
  maxMs: number;
  windowMs: number;
  maxKeys: number;
}

interface Entry {
  failures: number;
  last: number;
  until: number;
}

export class Lockout {
  private readonly keys = new Map<string, Entry>();
  evicted = 0;

  constructor(private readonly limits: LockoutLimits) {}

  /** Milliseconds the key stays locked (0: not locked). */
  remaining(key: string, now = Date.now()): number {
    const e = this.keys.get(key);
    if (!e) return 0;
    if (now - e.last > this.limits.windowMs && now >= e.until) {
      this.keys.delete(key);
      return 0;
    }
    return Math.max(0, e.until - now);
  }

  /** Count a failure; returns true when this failure locked the key. */
  fail(key: string, now = Date.now()): boolean {
    let e = this.keys.get(key);
    if (e && now - e.last > this.limits.windowMs && now >= e.until) e = undefined;
    if (!e) e = { failures: 0, last: now, until: 0 };
    else this.keys.delete(key);
    e.failures++;
    e.last = now;
    const over = e.failures - this.limits.threshold;
    if (over >= 0) e.until = now + Math.min(this.limits.maxMs, this.limits.baseMs * 2 ** Math.min(over, 30));
    // Re-inserted so Map order is least-recently-failed first.
    this.keys.set(key, e);
    while (this.keys.size > this.limits.maxKeys) {
      this.keys.delete(this.keys.keys().next().value as string);
      this.evicted++;
    }
    return over >= 0;
  }

  clear(key: string): void {
    this.keys.delete(key);
  }

  clearAll(): void {
    this.keys.clear();
  }

  get size(): number {
    return this.keys.size;
  }
}
