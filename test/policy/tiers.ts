import { type Conversation, rng } from '../support/traffic.js';

/**
 * Three application tiers (web → app → db) with their clients, a DNS and an NTP server, and
 * the internet, generated with the truth of who is who; a little noise (an admin's SSH
 * rounds, one-off file-share contacts).
 */
export const TIERS: Record<string, string[]> = {
  clients: Array.from({ length: 20 }, (_, i) => `10.0.9.${i + 1}`),
  web: ['10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.4'],
  app: ['10.0.2.1', '10.0.2.2', '10.0.2.3'],
  db: ['10.0.3.1', '10.0.3.2'],
  dns: ['10.0.0.53'],
  ntp: ['10.0.0.123'],
};
export const T0 = Date.UTC(2024, 5, 3, 8) / 1000;

export function benign(seed: number, start: number, hours: number, noise: boolean): Conversation[] {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const out: Conversation[] = [];
  let port = 20000;
  const conv = (client: string, server: string, proto: 6 | 17, sport: number, t: number) => {
    port = port >= 60000 ? 20000 : port + 1;
    out.push({ client, server, proto, cport: port, sport, t });
  };
  for (let t = start; t < start + hours * 3600; t += 60) {
    for (const c of TIERS.clients!) {
      if (r() < 0.3) conv(c, pick(TIERS.web!), 6, 443, t + r() * 50);
      if (r() < 0.2) conv(c, TIERS.dns![0]!, 17, 53, t + r() * 50);
      if (r() < 0.1) conv(c, `203.0.113.${10 + Math.floor(r() * 10)}`, 6, 443, t + r() * 50);
    }
    for (const w of TIERS.web!) {
      if (r() < 0.8) conv(w, pick(TIERS.app!), 6, 8080, t + r() * 50);
      if (r() < 0.1) conv(w, TIERS.dns![0]!, 17, 53, t + r() * 50);
    }
    for (const a of TIERS.app!) {
      if (r() < 0.7) conv(a, pick(TIERS.db!), 6, 5432, t + r() * 50);
      if (r() < 0.1) conv(a, TIERS.dns![0]!, 17, 53, t + r() * 50);
    }
    if ((t - start) % 600 === 0) {
      for (const h of [...TIERS.app!, ...TIERS.db!, ...TIERS.web!])
        conv(h, TIERS.ntp![0]!, 17, 123, t + r() * 50);
    }
  }
  if (noise) {
    // An admin's SSH round over the servers, and a few one-off contacts between workstations.
    for (const s of [...TIERS.web!, ...TIERS.app!, ...TIERS.db!])
      conv('10.0.9.20', s, 6, 22, start + 1800 + r() * 60);
    for (let i = 0; i < 3; i++) conv(pick(TIERS.clients!), pick(TIERS.clients!), 6, 445, start + r() * 3600);
  }
  return out;
}

/** The two flows a policy learned from `benign` must flag: web → db directly, and a new outside network. */
export function violations(start: number): Conversation[] {
  return [
    { client: '10.0.1.2', server: '10.0.3.1', proto: 6, cport: 45000, sport: 5432, t: start + 600 },
    { client: '10.0.1.2', server: '10.0.3.1', proto: 6, cport: 45001, sport: 5432, t: start + 700 },
    { client: '10.0.9.5', server: '198.51.100.7', proto: 6, cport: 45002, sport: 443, t: start + 900 },
  ];
}
