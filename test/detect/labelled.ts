import type { AlertCategory } from '../../src/schema/alert.js';
import { type Answer, CaptureKit, httpRequest, httpResponse, rng } from './capture-kit.js';

/**
 * The labelled evaluation capture: an hour of an office network (200 workstations, resolvers,
 * a mail server, web, TLS, SSH, SMB, DNS with a few typos, NTP and update checks from every
 * host) with attack episodes mixed in, and the ground truth of each episode next to it.
 */
export interface Episode {
  id: string;
  category: AlertCategory;
  src?: string;
  dst?: string;
  dport?: number;
  how: string;
}

export interface Labelled {
  kit: CaptureKit;
  t0: number;
  benignFlows: number;
  episodes: Episode[];
}

export const T0 = Date.parse('2026-03-02T09:00:00Z') / 1000;
const HOUR = 3600;
const RESOLVERS = ['10.0.0.53', '10.0.0.54'];
const SYL = [
  'ma',
  'ri',
  'to',
  'ne',
  'sta',
  'con',
  'ver',
  'pro',
  'lin',
  'tech',
  'cloud',
  'net',
  'data',
  'shop',
  'news',
  'mail',
  'web',
  'soft',
  'work',
  'home',
  'bank',
  'tra',
  'vel',
  'lo',
  'go',
];
const TLDS = ['com', 'net', 'org', 'io', 'de', 'co.uk'];

export function benignHost(i: number): string {
  return `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

export function makeLabelled(opts: { benignTarget?: number; attacks?: boolean } = {}): Labelled {
  const r = rng(12);
  const kit = new CaptureKit();
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
  const port = (): number => 20_000 + Math.floor(r() * 40_000);
  const hosts = Array.from({ length: 200 }, (_, i) => benignHost(i));
  // 600 external sites over ~450 networks, popularity Zipf-like.
  const sites = Array.from({ length: 600 }, (_, i) => {
    const name = `${pick(SYL)}${pick(SYL)}${pick(SYL)}.${pick(TLDS)}`;
    const ip = `${23 + (i % 150)}.${(i * 7) % 250}.${Math.floor(i / 3) % 250}.${(i % 200) + 10}`;
    return { name: i % 3 === 0 ? `www.${name}` : name, ip };
  });
  const site = (): { name: string; ip: string } => sites[Math.min(599, Math.floor(600 * r() ** 2.2))]!;
  const a4 = (ip: string): Answer => ({ type: 1, data: Buffer.from(ip.split('.').map(Number)) });
  const target = opts.benignTarget ?? 20_000;

  // Periodic benign traffic: NTP every 1024 s and update checks every 15 min from every host.
  for (const h of hosts) {
    const off = r() * 1024;
    for (let t = off; t < HOUR; t += 1024) kit.udp(t, h, '162.159.200.1', 123, 123, 48, 48);
    const u = r() * 900;
    for (let t = u; t < HOUR; t += 900 + (r() - 0.5) * 4) {
      kit.dns(t, h, RESOLVERS[0]!, port(), 'update.vendorsoft.com', 1, 0, [a4('52.10.20.30')]);
      kit.tcpSession(t + 0.02, h, '52.10.20.30', port(), 443, { req: 900, resp: 4200 });
    }
    // IMAP polling of the internal mail server every 5 min.
    const m = r() * 300;
    for (let t = m; t < HOUR; t += 300)
      kit.tcpSession(t, h, '10.0.0.25', port(), 993, { req: 600, resp: 1500, durSec: 0.3 });
  }
  // A monitoring server polling 40 devices every 60 s (internal, periodic, benign).
  for (let d = 0; d < 40; d++) {
    for (let t = d; t < HOUR; t += 60) kit.udp(t, '10.0.0.5', `10.3.0.${d + 1}`, port(), 161, 90, 300);
  }
  // Inbound mail from external MTAs and outbound to a few.
  for (let i = 0; i < 300; i++) {
    kit.tcpSession(r() * HOUR, `${80 + (i % 40)}.12.${i % 200}.9`, '10.0.0.25', port(), 25, {
      req: 8000 + r() * 40_000,
      resp: 900,
      durSec: 1.5,
    });
  }
  while (kit.flows < target) {
    const h = pick(hosts);
    const t = r() * HOUR;
    const x = r();
    if (x < 0.55) {
      const s = site();
      const typo = r() < 0.02;
      const res = pick(RESOLVERS);
      if (typo) {
        kit.dns(t, h, res, port(), `${s.name.replace(/a/, 'aa')}x`, 1, 3);
        continue;
      }
      kit.dns(t, h, res, port(), s.name, r() < 0.3 ? 28 : 1, 0, [a4(s.ip)]);
      if (r() < 0.02) {
        // A connection that fails: firewalled, or a closed port.
        kit.tcpSession(t + 0.01, h, s.ip, port(), 443, r() < 0.5 ? { noAnswer: true } : { refuse: true });
        continue;
      }
      if (r() < 0.15) {
        kit.tcpSession(t + 0.01, h, s.ip, port(), 80, {
          req: httpRequest('GET', s.name, `/${pick(SYL)}/${Math.floor(r() * 1000)}`),
          resp: httpResponse(r() < 0.9 ? 200 : r() < 0.5 ? 404 : 401, 'OK', Math.floor(r() * 500)),
        });
      } else {
        const big = r() < 0.05;
        kit.tcpSession(t + 0.01, h, s.ip, port(), 443, {
          req: 500 + Math.floor(r() * 3000),
          resp: big ? 2_000_000 + Math.floor(r() * 8e6) : 2000 + Math.floor(r() * 150_000),
          durSec: big ? 5 + r() * 20 : 0.2 + r() * 3,
        });
      }
    } else if (x < 0.7) {
      kit.dns(
        t,
        h,
        pick(RESOLVERS),
        port(),
        `${pick(['wpad', 'printer', 'fs01', 'intranet', 'git'])}.corp.example`,
        1,
        r() < 0.1 ? 3 : 0,
        [a4('10.0.0.70')],
      );
    } else if (x < 0.8) {
      kit.tcpSession(t, h, `10.0.0.${40 + Math.floor(r() * 5)}`, port(), 445, {
        req: 5000 + r() * 50_000,
        resp: 10_000 + r() * 900_000,
        durSec: 2,
      });
    } else if (x < 0.85) {
      kit.tcpSession(t, h, `10.0.0.${60 + Math.floor(r() * 4)}`, port(), 22, {
        req: 40_000,
        resp: 80_000,
        durSec: 120 + r() * 600,
      });
    } else if (x < 0.98) {
      kit.tcpSession(t, h, '10.0.0.80', port(), 443, {
        req: 800 + r() * 4000,
        resp: 3000 + r() * 60_000,
        durSec: 0.5,
      });
    } else {
      // Cloud storage: large uploads, but to destinations every host uses.
      kit.dns(t, h, RESOLVERS[1]!, port(), 'drive.bigcloud.com', 1, 0, [a4('142.250.1.10')]);
      kit.tcpSession(t + 0.01, h, '142.250.1.10', port(), 443, {
        req: 100_000 + r() * 30e6,
        resp: 8000,
        durSec: 20,
      });
    }
  }
  const benignFlows = kit.flows;
  const episodes: Episode[] = [];
  if (opts.attacks !== false) addAttacks(kit, r, episodes);
  return { kit, t0: T0, benignFlows, episodes };
}

function addAttacks(kit: CaptureKit, r: () => number, ep: Episode[]): void {
  const port = (): number => 20_000 + Math.floor(r() * 40_000);
  // Vertical TCP SYN scan (nmap -sS -p1-1000), 3 ports open.
  ep.push({
    id: 'scan-vertical',
    category: 'scan',
    src: '10.1.9.9',
    dst: '10.0.0.20',
    how: 'SYN scan of 1000 ports in 20 s',
  });
  for (let p = 1; p <= 1000; p++) {
    const open = p === 22 || p === 80 || p === 443;
    kit.tcpSession(
      600 + p * 0.02,
      '10.1.9.9',
      '10.0.0.20',
      40_000 + (p % 7),
      p,
      open ? { clientReset: true } : { refuse: true },
    );
  }
  // Horizontal SMB sweep of a /24, mostly unanswered.
  ep.push({
    id: 'scan-horizontal',
    category: 'scan',
    src: '10.1.9.10',
    dport: 445,
    how: 'port 445 on 254 hosts',
  });
  for (let i = 1; i <= 254; i++) {
    kit.tcpSession(
      900 + i * 0.1,
      '10.1.9.10',
      `10.2.0.${i}`,
      port(),
      445,
      i % 20 === 0 ? { clientReset: true } : { noAnswer: true },
    );
  }
  // UDP scan, closed ports answer ICMP port unreachable.
  ep.push({
    id: 'scan-udp',
    category: 'scan',
    src: '10.1.9.11',
    dst: '10.0.0.21',
    how: 'UDP scan of 200 ports',
  });
  for (let p = 1; p <= 200; p++) {
    const t = 1200 + p * 0.05;
    kit.udp(t, '10.1.9.11', '10.0.0.21', 50_000, p, 0, null);
    if (p !== 53 && p !== 123) kit.unreachable(t + 0.001, '10.0.0.21', '10.1.9.11', 50_000, p);
  }
  // Slow vertical scan from outside: 60 ports, one a minute, over the hour.
  ep.push({
    id: 'scan-slow',
    category: 'scan',
    src: '203.0.113.66',
    dst: '10.0.0.30',
    how: '60 ports, one per minute',
  });
  for (let i = 0; i < 60; i++)
    kit.tcpSession(i * 59 + r() * 10, '203.0.113.66', '10.0.0.30', port(), 1000 + i * 17, { noAnswer: true });
  // Slow horizontal: RDP on 80 hosts over the hour.
  ep.push({
    id: 'scan-slow-horizontal',
    category: 'scan',
    src: '10.1.9.12',
    dport: 3389,
    how: '3389 on 80 hosts, one per 45 s',
  });
  for (let i = 0; i < 80; i++)
    kit.tcpSession(i * 44 + r() * 5, '10.1.9.12', `10.4.${i % 3}.${i + 1}`, port(), 3389, { noAnswer: true });

  // SYN flood from spoofed random sources: 30,000 SYNs in 10 s.
  ep.push({ id: 'flood-syn', category: 'ddos', dst: '10.0.0.80', how: '3,000 SYN/s from random sources' });
  for (let i = 0; i < 30_000; i++) {
    const src = `${1 + Math.floor(r() * 220)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`;
    kit.single(1500 + i / 3000, src, '10.0.0.80', 'syn', 1024 + Math.floor(r() * 60_000), 80);
  }
  // UDP flood: 120,000 datagrams in 10 s from 4 sources.
  ep.push({ id: 'flood-udp', category: 'ddos', dst: '10.0.0.81', how: '12,000 UDP packets/s' });
  for (let i = 0; i < 120_000; i++)
    kit.single(
      1800 + i / 12_000,
      `198.51.100.${7 + (i % 4)}`,
      '10.0.0.81',
      'udp',
      40_000 + (i % 500),
      53 + (i % 3),
      512,
    );
  // ICMP flood: 30,000 echo requests in 10 s.
  ep.push({ id: 'flood-icmp', category: 'ddos', dst: '10.0.0.82', how: '3,000 ICMP echo/s' });
  for (let i = 0; i < 30_000; i++)
    kit.single(2100 + i / 3000, `198.51.100.${20 + (i % 2)}`, '10.0.0.82', 'icmp', i & 0xffff, 0, 84);
  // DNS amplification: 300 resolvers reflect 1400-byte answers at the victim.
  ep.push({
    id: 'flood-amp',
    category: 'ddos',
    dst: '10.0.0.83',
    how: '1,500 large DNS answers/s from 300 reflectors',
  });
  for (let i = 0; i < 15_000; i++)
    kit.single(
      2400 + i / 1500,
      `192.0.2.${1 + (i % 250)}`.replace(/\.(\d+)$/, (_, d) => `.${d}`),
      '10.0.0.83',
      'udp',
      53,
      30_000 + (i % 300),
      1400,
    );

  // SSH brute force (hydra-like): 40 short sessions.
  ep.push({
    id: 'brute-ssh',
    category: 'bruteforce',
    src: '203.0.113.10',
    dst: '10.0.0.22',
    dport: 22,
    how: '40 SSH logins in 4 min',
  });
  for (let i = 0; i < 40; i++)
    kit.tcpSession(2700 + i * 6, '203.0.113.10', '10.0.0.22', port(), 22, {
      req: 1800,
      resp: 2600,
      durSec: 3,
    });
  // RDP brute force.
  ep.push({
    id: 'brute-rdp',
    category: 'bruteforce',
    src: '203.0.113.11',
    dst: '10.0.0.23',
    dport: 3389,
    how: '30 RDP sessions in 2 min',
  });
  for (let i = 0; i < 30; i++)
    kit.tcpSession(2800 + i * 4, '203.0.113.11', '10.0.0.23', port(), 3389, {
      req: 3000,
      resp: 4000,
      durSec: 2,
    });
  // HTTP login brute force: 30 POSTs answered 401.
  ep.push({
    id: 'brute-http',
    category: 'bruteforce',
    src: '10.1.9.13',
    dst: '10.0.0.24',
    how: '30 POST /login answered 401',
  });
  for (let i = 0; i < 30; i++) {
    kit.tcpSession(3000 + i * 3, '10.1.9.13', '10.0.0.24', port(), 80, {
      req: httpRequest('POST', 'intranet.corp.example', '/login'),
      resp: httpResponse(401, 'Unauthorized'),
    });
  }

  // DNS tunnel encoded like iodine: NULL queries with base32 labels under one domain.
  ep.push({
    id: 'dns-tunnel',
    category: 'dns_tunnel',
    src: '10.1.9.14',
    how: '600 NULL queries with 50-char encoded labels',
  });
  const b32 = 'abcdefghijklmnopqrstuvwxyz012345';
  for (let i = 0; i < 600; i++) {
    let lab = 'p';
    for (let j = 0; j < 52; j++) lab += b32[Math.floor(r() * 32)];
    const ans = Buffer.alloc(200 + Math.floor(r() * 800), 0x41 + (i % 26));
    kit.dns(
      300 + i * 2,
      '10.1.9.14',
      '10.0.0.53',
      30_000 + i,
      `${lab}.${lab.slice(0, 20)}.t.tunnelbox.net`,
      10,
      0,
      [{ type: 10, data: ans }],
    );
  }
  // DGA: 60 random .com/.net names, NXDOMAIN, in 2 minutes.
  ep.push({ id: 'dga', category: 'dga', src: '10.1.9.15', how: '60 NXDOMAIN random names' });
  for (let i = 0; i < 60; i++) {
    let lab = '';
    const n = 10 + Math.floor(r() * 8);
    for (let j = 0; j < n; j++) lab += String.fromCharCode(97 + Math.floor(r() * 26));
    kit.dns(1000 + i * 2, '10.1.9.15', '10.0.0.54', 31_000 + i, `${lab}.${i % 2 ? 'com' : 'net'}`, 1, 3);
  }

  // Beacons: jittered, with missed beats.
  ep.push({
    id: 'beacon-60',
    category: 'beacon',
    src: '10.1.9.16',
    dst: '198.51.100.50',
    how: '60 s ± 8 s, 10% beats missing',
  });
  for (let t = 5; t < 3600; t += 60) {
    if (r() < 0.1) continue;
    kit.tcpSession(t + (r() - 0.5) * 16, '10.1.9.16', '198.51.100.50', 40_000 + Math.floor(r() * 1000), 443, {
      req: 420 + Math.floor(r() * 20),
      resp: 310,
    });
  }
  ep.push({
    id: 'beacon-120',
    category: 'beacon',
    src: '10.1.9.17',
    dst: '198.51.100.51',
    how: '120 s ± 15 s on 8080, 15% missing',
  });
  for (let t = 30; t < 3600; t += 120) {
    if (r() < 0.15) continue;
    kit.tcpSession(
      t + (r() - 0.5) * 30,
      '10.1.9.17',
      '198.51.100.51',
      41_000 + Math.floor(r() * 1000),
      8080,
      { req: 1200, resp: 640 + Math.floor(r() * 40) },
    );
  }
  // Exfiltration: 60 MB in three uploads to a destination no one else uses.
  ep.push({
    id: 'exfil',
    category: 'exfiltration',
    src: '10.1.9.18',
    dst: '198.51.100.60',
    how: '3 × 20 MB uploads to a new host',
  });
  for (let i = 0; i < 3; i++)
    kit.tcpSession(3000 + i * 120, '10.1.9.18', '198.51.100.60', port(), 443, {
      req: 20_000_000,
      resp: 5000,
      durSec: 60,
    });
}
