import { createRequire } from 'node:module';

/**
 * MAC vendor from the IEEE OUI registry (npm `oui-data`, MA-L assignments). The 5 MB table is
 * loaded on the first lookup only, so a sensor that never emits a device never pays for it.
 */
let table: Record<string, string> | null = null;
const cache = new Map<string, string | null>();

function load(): Record<string, string> {
  if (table === null) {
    try {
      table = createRequire(import.meta.url)('oui-data') as Record<string, string>;
    } catch {
      table = {};
    }
  }
  return table;
}

/** "aa:bb:cc:dd:ee:ff" → organisation name, null when unassigned or locally administered. */
export function macVendor(mac: string): string | null {
  if (mac.length < 8) return null;
  const first = Number.parseInt(mac.slice(0, 2), 16);
  if (!(first >= 0) || first & 0x02) return null; // locally administered (random, virtual)
  const oui = (mac.slice(0, 2) + mac.slice(3, 5) + mac.slice(6, 8)).toUpperCase();
  const hit = cache.get(oui);
  if (hit !== undefined) return hit;
  const raw = load()[oui];
  const name = raw === undefined ? null : (raw.split('\n')[0] ?? '').trim() || null;
  if (cache.size < 10_000) cache.set(oui, name);
  return name;
}
