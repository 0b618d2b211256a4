import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { searchToStream } from '../pcapstore/search.js';
import type { PcapStore } from '../pcapstore/store.js';
import type { AlertRecord } from '../schema/alert.js';

/**
 * The packets of an alert, kept as evidence: the hosts' packets from a minute before the
 * episode to a minute after, from the packet store into DIR/respond/evidence/<alert>.pcap
 * (bounded: 10,000 packets, 64 MiB), so they outlive the store's retention.
 */
export function pcapEvidence(
  store: () => PcapStore | null,
  dataDir: string,
): (a: AlertRecord) => Promise<Record<string, unknown>> {
  return async (a) => {
    const s = store();
    if (!s) return { available: false, reason: 'packets are not recorded' };
    const ips = [a.src_ip, a.dst_ip].filter((x): x is string => typeof x === 'string');
    if (ips.length === 0) return { available: false, reason: 'the alert names no host' };
    const dir = join(dataDir, 'respond', 'evidence');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${a.alert_id.replace(/[^A-Za-z0-9-]/g, '_')}.pcap`);
    const out = createWriteStream(file);
    const r = await searchToStream(
      s,
      {
        after: (Date.parse(a.first_ts) - 60_000) * 1000,
        before: (Date.parse(a.last_ts) + 60_000) * 1000,
        ip: ips,
        maxPackets: 10_000,
        maxBytes: 64 << 20,
      },
      out,
    );
    out.end();
    await finished(out);
    return { available: true, file, packets: r.packets, bytes: r.bytes, truncated: r.truncated };
  };
}
