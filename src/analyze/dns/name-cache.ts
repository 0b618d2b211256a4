/**
 * Names that DNS answers gave for addresses (A/AAAA), so application identification can name a
 * flow's server when neither SNI nor Host is known. Bounded: the least recently used address
 * is forgotten first.
 */
export class DnsNameCache {
  private readonly map = new Map<string, string>();

  constructor(private readonly limit = 20_000) {}

  /** `ip` resolved from a query for `name` (the name the client asked, not the CNAME target). */
  learn(ip: string, name: string): void {
    const m = this.map;
    if (m.has(ip)) m.delete(ip);
    else if (m.size >= this.limit) {
      const oldest = m.keys().next();
      if (!oldest.done) m.delete(oldest.value);
    }
    m.set(ip, name);
  }

  lookup(ip: string): string | null {
    const v = this.map.get(ip);
    if (v === undefined) return null;
    this.map.delete(ip);
    this.map.set(ip, v);
    return v;
  }

  get size(): number {
    return this.map.size;
  }
}
