import { CappedSet, Hll } from './bounded.js';
import { PairTable, strHash } from './pair-table.js';

/**
 * How many internal hosts talk to each external destination, shared by the detectors that
 * weigh rarity (beacons, exfiltration): kept once per flow instead of once per detector.
 * Updated after the detectors have seen a flow, so they read what was known before it.
 */
export class Prevalence {
  /** Keyed by the destination alone (the second key is always ''). */
  private readonly dsts: PairTable<CappedSet<string>>;
  private readonly hosts = new Hll();
  private hostCount = 0;
  private hostsDirty = 0;

  constructor(cap = 200_000) {
    this.dsts = new PairTable(cap);
  }

  get size(): number {
    return this.dsts.size;
  }

  /** Distinct internal hosts seen talking to `dst` (at most 256 counted exactly). */
  users(dst: string, dstHash = strHash(dst)): number {
    return this.dsts.get(dst, '', dstHash)?.count ?? 0;
  }

  uses(dst: string, src: string, dstHash = strHash(dst)): boolean {
    return this.dsts.get(dst, '', dstHash)?.items.has(src) ?? false;
  }

  /** Distinct internal hosts seen at all (estimated). */
  internalHosts(): number {
    if (this.hostsDirty > 0) {
      this.hostCount = this.hosts.count();
      this.hostsDirty = 0;
    }
    return this.hostCount;
  }

  add(src: string, dst: string, dstHash = strHash(dst), srcHash = strHash(src)): void {
    this.hosts.addHash(srcHash);
    this.hostsDirty++;
    let users = this.dsts.recent(dst, '', dstHash);
    if (users === undefined) {
      users = new CappedSet<string>(256);
      this.dsts.insert(dst, '', dstHash, users);
    }
    users.add(src);
  }
}
