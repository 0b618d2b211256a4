import { isoNs } from '../../common/time.js';
import type { Packet } from '../../decode/packet.js';
import type { deviceRecord } from '../../schema/device.js';
import type { RecordOf } from '../../schema/registry.js';
import type { Analyzer, RecordSink } from '../types.js';
import { macVendor } from './oui.js';

export type DeviceRecord = RecordOf<typeof deviceRecord>;
export type DeviceSource = 'arp' | 'nd' | 'dhcp';

export interface InventoryConfig {
  /** Bindings kept; beyond this the least recently seen is emitted and forgotten. */
  maxDevices: number;
  /** Previous MACs remembered per address. */
  maxPreviousMacs: number;
}

export const DEFAULT_INVENTORY_CONFIG: InventoryConfig = { maxDevices: 100_000, maxPreviousMacs: 8 };

export interface InventoryCounters {
  observations: number;
  bindings: number;
  macChanges: number;
  evicted: number;
}

interface Binding {
  ip: string;
  mac: string;
  vlan: number | null;
  firstSec: number;
  firstNs: number;
  lastSec: number;
  lastNs: number;
  count: number;
  sources: number;
  previous: string[];
}

interface MacInfo {
  hostname: string | null;
  vendorClass: string | null;
}

const SOURCE_BITS: Record<DeviceSource, number> = { arp: 1, nd: 2, dhcp: 4 };
const SOURCE_NAMES: DeviceSource[] = ['arp', 'nd', 'dhcp'];

export function createDeviceInventory(sink: RecordSink, cfg: Partial<InventoryConfig> = {}): DeviceInventory {
  return new DeviceInventory(sink, { ...DEFAULT_INVENTORY_CONFIG, ...cfg });
}

/**
 * The active-device inventory: IP ↔ MAC bindings fed by the ARP, ND and DHCP analyzers.
 * Registered as an analyzer only to emit what it holds at `finish()`; a binding that another
 * MAC takes over is emitted at once (status "replaced").
 */
export class DeviceInventory implements Analyzer {
  readonly name = 'devices';
  readonly counters: InventoryCounters = { observations: 0, bindings: 0, macChanges: 0, evicted: 0 };
  private readonly bindings = new Map<string, Binding>();
  private readonly macs = new Map<string, MacInfo>();

  constructor(
    private readonly sink: RecordSink,
    private readonly cfg: InventoryConfig,
  ) {}

  onPacket(_p: Packet): boolean {
    return false; // fed by the ARP/ND and DHCP analyzers
  }

  /** `ip` is held by `mac` (on `vlan`), as `source` showed at the given time. */
  observe(
    ip: string,
    mac: string,
    vlan: number | null,
    tsSec: number,
    tsNs: number,
    source: DeviceSource,
  ): void {
    this.counters.observations++;
    const key = vlan === null ? ip : `${vlan}|${ip}`;
    const m = this.bindings;
    let b = m.get(key);
    if (b !== undefined && b.mac !== mac) {
      this.counters.macChanges++;
      m.delete(key);
      this.emit(b, 'replaced');
      const previous = [...b.previous, b.mac].slice(-this.cfg.maxPreviousMacs);
      b = undefined;
      b = this.create(key, ip, mac, vlan, tsSec, tsNs);
      b.previous = previous;
    } else if (b === undefined) {
      b = this.create(key, ip, mac, vlan, tsSec, tsNs);
    } else {
      // Most recently seen last: eviction takes the map's first entry.
      m.delete(key);
      m.set(key, b);
    }
    if (tsSec > b.lastSec || (tsSec === b.lastSec && tsNs > b.lastNs)) {
      b.lastSec = tsSec;
      b.lastNs = tsNs;
    }
    b.count++;
    b.sources |= SOURCE_BITS[source];
  }

  /** What a MAC said about itself in DHCP (host name, vendor class). */
  describe(mac: string, hostname: string | null, vendorClass: string | null): void {
    let info = this.macs.get(mac);
    if (info === undefined) {
      if (this.macs.size >= this.cfg.maxDevices) {
        const oldest = this.macs.keys().next();
        if (!oldest.done) this.macs.delete(oldest.value);
      }
      info = { hostname: null, vendorClass: null };
      this.macs.set(mac, info);
    }
    if (hostname !== null) info.hostname = hostname;
    if (vendorClass !== null) info.vendorClass = vendorClass;
  }

  get size(): number {
    return this.bindings.size;
  }

  finish(): void {
    for (const b of this.bindings.values()) this.emit(b, 'current');
    this.bindings.clear();
  }

  private create(
    key: string,
    ip: string,
    mac: string,
    vlan: number | null,
    sec: number,
    ns: number,
  ): Binding {
    if (this.bindings.size >= this.cfg.maxDevices) {
      const oldest = this.bindings.entries().next();
      if (!oldest.done) {
        this.bindings.delete(oldest.value[0]);
        this.counters.evicted++;
        this.emit(oldest.value[1], 'current');
      }
    }
    const b: Binding = {
      ip,
      mac,
      vlan,
      firstSec: sec,
      firstNs: ns,
      lastSec: sec,
      lastNs: ns,
      count: 0,
      sources: 0,
      previous: [],
    };
    this.bindings.set(key, b);
    this.counters.bindings++;
    return b;
  }

  private emit(b: Binding, status: string): void {
    const info = this.macs.get(b.mac);
    const rec: DeviceRecord = {
      type: 'device',
      ip: b.ip,
      mac: b.mac,
      vendor: macVendor(b.mac),
      vlan: b.vlan,
      first_ts: isoNs(b.firstSec, b.firstNs),
      last_ts: isoNs(b.lastSec, b.lastNs),
      observations: b.count,
      sources: SOURCE_NAMES.filter((s) => b.sources & SOURCE_BITS[s]),
      hostname: info?.hostname ?? null,
      vendor_class: info?.vendorClass ?? null,
      previous_macs: b.previous,
      status,
    };
    this.sink(rec);
  }
}
