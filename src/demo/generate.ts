/**
 * The demo network: ninety minutes of a small company's traffic as a core-switch SPAN port
 * sees it, ending a minute before "now", with a handful of incidents that each SecOps
 * capability of Vantage should find. Deterministic for a seed (apart from the end time), so a
 * test can say exactly what must be found.
 *
 * HQ: 60 workstations (VLAN 20, a quarter also on IPv6), servers (VLAN 10: DNS, directory,
 * app, PostgreSQL, the flow collector), a DMZ (VLAN 30: two intranet web servers and an SSH
 * bastion); SaaS over TLS with SNI, an update server over HTTP. A branch office's router
 * exports its flows as IPFIX to the collector across the WAN (VLAN 99).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IpfixEncoder } from '../collect/exporter/ipfix-exporter.js';
import type { FlowRecord } from '../schema/records.js';
import {
  clientHello,
  type DnsAnswer,
  dnsMessage,
  httpRequest,
  httpResponseHead,
  QTYPE,
  type Random,
  serverHello,
  sshBanner,
} from './l7.js';
import { pcapFile, type TestPacket } from './pcap-writer.js';
import { type Exchange, type TcpSession, tcpSessionPackets, udpPackets } from './session.js';

/** Minutes from the start of the demo: when each part of the story happens. */
export const TIMELINE = {
  duration: 90,
  /** The policy is learned from the traffic before this... */
  learnUntil: 40,
  scan: 45,
  phishing: 48,
  bruteForce: 50,
  tunnel: 55,
  /** ...and approved here: traffic after it is checked against the policy. */
  approve: 70,
  violation: 76,
} as const;

export const VLANS = { servers: 10, users: 20, dmz: 30, wan: 99 } as const;

export const HOSTS = {
  dns: '10.10.10.53',
  directory: '10.10.10.11',
  app: '10.10.10.40',
  db: '10.10.10.50',
  collector: '10.10.10.5',
  web: ['10.10.30.21', '10.10.30.22'],
  bastion: '10.10.30.10',
  branchRouter: '10.20.0.1',
  admin: '10.10.20.10',
  beaconing: '10.10.20.37',
  phished: '10.10.20.52',
  scanner: '10.10.20.66',
  tunnelling: '10.10.20.44',
  /** Outside: the command-and-control server, the phishing site, the SSH brute forcer. */
  c2: '203.0.113.66',
  phishingSite: '203.0.113.99',
  attacker: '198.51.100.23',
} as const;

export const NAMES = {
  c2: 'cdn.telemetry-sync.example',
  phishing: 'login.m1crosoft-verify.example',
  tunnelDomain: 'cloudsync-cdn.example',
  portal: 'portal.corp.example',
} as const;

/** What the workstations use, with the addresses a resolver would answer. */
const SAAS: { name: string; v4: string; v6?: string }[] = [
  { name: 'outlook.office365.com', v4: '52.97.146.2', v6: '2603:1026:c0b::2' },
  { name: 'teams.microsoft.com', v4: '52.113.194.132' },
  { name: 'www.google.com', v4: '142.250.185.4', v6: '2a00:1450:4001:82a::2004' },
  { name: 'app.slack.com', v4: '54.192.150.47' },
  { name: 'github.com', v4: '140.82.121.4' },
  { name: 'login.salesforce.com', v4: '136.146.37.100' },
  { name: 'zoom.us', v4: '170.114.52.2' },
  { name: 'api.dropboxapi.com', v4: '162.125.6.19' },
];
const UPDATES = { name: 'ctldl.windowsupdate.com', v4: '93.184.221.240' };

export const WORKSTATIONS = Array.from({ length: 60 }, (_, i) => `10.10.20.${10 + i}`);
/** Every fourth workstation is dual-stack and prefers IPv6 where the site has it. */
export const v6Of = (ws: string): string | null => {
  const n = Number(ws.split('.')[3]);
  return n % 4 === 0 ? `fd00:10:20::${n.toString(16)}` : null;
};
const BRANCH_HOSTS = Array.from({ length: 20 }, (_, i) => `10.20.1.${10 + i}`);

export interface DemoPlan {
  /** Epoch milliseconds. */
  start: number;
  end: number;
  learnUntil: number;
  approveAt: number;
  /** Captures before and after the policy approval. */
  parts: [string, string];
  /** Suricata EVE alert lines about the brute force. */
  eve: string;
  /** The threat-intel feed of the demo (CSV). */
  intelFeed: string;
  packets: number;
}

function rng(seed: number): Random {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

/** Write the demo's captures, EVE lines and intel feed into `dir`; it ends at `endMs`. */
export function generateDemo(dir: string, endMs: number, seed = 20_240_501): DemoPlan {
  const r = rng(seed);
  const ri = (a: number, b: number): number => a + Math.floor(r() * (b - a + 1));
  const end = Math.floor(endMs / 1000);
  const start = end - TIMELINE.duration * 60;
  const at = (min: number): number => start + min * 60;
  const approve = at(TIMELINE.approve);
  const parts: [TestPacket[], TestPacket[]] = [[], []];
  const put = (t: number, pkts: TestPacket[]): void => {
    parts[t < approve ? 0 : 1].push(...pkts);
  };
  let port = 49_152;
  const ephemeral = (): number => {
    port = port >= 65_000 ? 49_152 : port + 1;
    return port;
  };
  let dnsId = 1;

  const dns = (
    t: number,
    client: string,
    vlan: number,
    name: string,
    qtype: number,
    answers: DnsAnswer[],
  ) => {
    const id = dnsId++ & 0xffff;
    put(
      t,
      udpPackets({
        t,
        client,
        server: HOSTS.dns,
        cport: ephemeral(),
        sport: 53,
        vlan,
        rtt: 0.0004 + r() * 0.002,
        request: dnsMessage(id, name, qtype),
        response: dnsMessage(id, name, qtype, answers),
      }),
    );
  };
  const session = (s: Omit<TcpSession, 'cport'>) => put(s.t, tcpSessionPackets({ ...s, cport: ephemeral() }));
  const tls = (
    t: number,
    client: string,
    server: string,
    vlan: number,
    sni: string,
    bytes: number,
    rtt: number,
  ) =>
    session({
      t,
      client,
      server,
      sport: 443,
      vlan,
      rtt,
      exchanges: [
        { request: clientHello(sni, r), response: 4000, responseHead: serverHello(r) },
        { request: ri(300, 900), response: bytes },
      ],
    });

  // ---- Normal work: every workstation, every ten minutes, uses each of its services once. ----
  const slots = TIMELINE.duration / 10;
  for (let slot = 0; slot < slots; slot++) {
    for (const ws of WORKSTATIONS) {
      const six = v6Of(ws);
      const slotT = at(slot * 10);
      for (const s of SAAS) {
        const t = slotT + r() * 590;
        const useV6 = six !== null && s.v6 !== undefined;
        dns(t, ws, VLANS.users, s.name, QTYPE.A, [{ type: 'A', ip: s.v4 }]);
        if (useV6) dns(t + 0.001, ws, VLANS.users, s.name, QTYPE.AAAA, [{ type: 'AAAA', ip: s.v6! }]);
        tls(
          t + 0.01,
          useV6 ? six : ws,
          useV6 ? s.v6! : s.v4,
          VLANS.users,
          s.name,
          ri(3000, 40_000),
          0.012 + r() * 0.02,
        );
      }
      const tu = slotT + r() * 590;
      dns(tu, ws, VLANS.users, UPDATES.name, QTYPE.A, [{ type: 'A', ip: UPDATES.v4 }]);
      session({
        t: tu + 0.01,
        client: ws,
        server: UPDATES.v4,
        sport: 80,
        vlan: VLANS.users,
        rtt: 0.018,
        exchanges: [
          {
            request: httpRequest(
              'GET',
              UPDATES.name,
              `/msdownload/update/v3/static/trustedr/en/authrootstl.cab?${ri(1, 1e6)}`,
              'Microsoft-CryptoAPI/10.0',
            ),
            response: 6000,
            responseHead: httpResponseHead(200, 'OK', 5800, 'application/vnd.ms-cab-compressed'),
          },
        ],
      });
      // The intranet portal: the web server asks the app server, which queries the database.
      const tp = slotT + r() * 590;
      const web = HOSTS.web[Number(ws.split('.')[3]) % 2]!;
      dns(tp, ws, VLANS.users, NAMES.portal, QTYPE.A, [{ type: 'A', ip: web }]);
      tls(tp + 0.01, ws, web, VLANS.users, NAMES.portal, ri(2000, 20_000), 0.0008);
      session({
        t: tp + 0.02,
        client: web,
        server: HOSTS.app,
        sport: 8080,
        vlan: VLANS.dmz,
        rtt: 0.0005,
        exchanges: [
          {
            request: httpRequest(
              'GET',
              'app.corp.example:8080',
              `/api/v2/dashboard?user=${ws}`,
              'portal/3.2',
            ),
            response: 3000,
            responseHead: httpResponseHead(200, 'OK', 2800, 'application/json'),
          },
        ],
      });
      // The directory: a logon-ish LDAP exchange.
      session({
        t: slotT + r() * 590,
        client: ws,
        server: HOSTS.directory,
        sport: 389,
        vlan: VLANS.users,
        rtt: 0.0006,
        exchanges: [{ request: ri(200, 400), response: ri(800, 3000) }],
      });
    }
    // The app server keeps a pool of database connections: a few long, busy sessions (many short
    // ones would look like password guessing, and a real pool does not do that).
    for (let c = 0; c < 4; c++) {
      const exchanges: Exchange[] = Array.from({ length: 12 }, () => ({
        request: ri(200, 600),
        response: ri(1500, 4000),
      }));
      session({
        t: at(slot * 10) + c * 150 + r() * 60,
        client: HOSTS.app,
        server: HOSTS.db,
        sport: 5432,
        vlan: VLANS.servers,
        rtt: 0.0004,
        exchanges,
      });
    }
    // An administrator on the bastion.
    session({
      t: at(slot * 10) + r() * 500,
      client: HOSTS.admin,
      server: HOSTS.bastion,
      sport: 22,
      vlan: VLANS.users,
      rtt: 0.0007,
      exchanges: [
        { request: sshBanner('OpenSSH_9.6'), response: sshBanner('OpenSSH_8.9p1 Ubuntu-3ubuntu0.6') },
        { request: 1500, response: 1100 },
        ...Array.from({ length: 40 }, () => ({ request: ri(60, 200), response: ri(100, 1400) })),
      ],
    });
  }

  // ---- The branch office: its router exports its flows as IPFIX, once a minute. ----
  const exported: { end: number; rec: FlowRecord }[] = [];
  let flowId = 1;
  for (let slot = 0; slot < slots; slot++) {
    for (const h of BRANCH_HOSTS) {
      for (const dst of [...SAAS.map((s) => s.v4), HOSTS.web[0]!]) {
        const t0 = at(slot * 10) + r() * 560;
        const dur = 0.5 + r() * 30;
        const cp = ri(8, 60);
        const sp = ri(10, 90);
        exported.push({
          end: t0 + dur,
          rec: exportRecord(flowId++, h, dst, 40_000 + ri(0, 20_000), t0, dur, cp, sp),
        });
      }
    }
  }
  exported.sort((a, b) => a.end - b.end);
  const encoder = new IpfixEncoder(7, 1400);
  for (let m = 1, i = 0; m <= TIMELINE.duration; m++) {
    const t = at(m) - 0.5;
    const batch: FlowRecord[] = [];
    while (i < exported.length && exported[i]!.end <= t) batch.push(exported[i++]!.rec);
    for (const msg of encoder.encode(batch, t * 1000)) {
      put(
        t,
        udpPackets({
          t,
          client: HOSTS.branchRouter,
          server: HOSTS.collector,
          cport: 50_123,
          sport: 4739,
          vlan: VLANS.wan,
          rtt: 0,
          request: msg,
          response: null,
        }),
      );
    }
  }

  // ---- Incidents ----
  // A beacon: one workstation calls its command-and-control server every four minutes, with jitter.
  dns(start + 5, HOSTS.beaconing, VLANS.users, NAMES.c2, QTYPE.A, [{ type: 'A', ip: HOSTS.c2 }]);
  for (let t = start + 6; t < end - 30; t += 240 + (r() - 0.5) * 24) {
    session({
      t,
      client: HOSTS.beaconing,
      server: HOSTS.c2,
      sport: 443,
      vlan: VLANS.users,
      rtt: 0.09,
      exchanges: [
        { request: clientHello(NAMES.c2, r), response: 1200, responseHead: serverHello(r) },
        { request: 310 + ri(0, 8), response: 420 + ri(0, 8) },
      ],
    });
  }
  // A port scan of the directory server from a workstation: closed ports answer RST.
  const open = new Set([53, 88, 135, 139, 389, 445, 464, 636]);
  for (let p = 1; p <= 1024; p++) {
    session({
      t: at(TIMELINE.scan) + p * 0.07,
      client: HOSTS.scanner,
      server: HOSTS.directory,
      sport: p,
      vlan: VLANS.users,
      rtt: 0.0006,
      exchanges: [],
      refused: !open.has(p),
      halfOpen: open.has(p),
    });
  }
  // A user follows a phishing link: the name is on the intel feed.
  const tph = at(TIMELINE.phishing);
  dns(tph, HOSTS.phished, VLANS.users, NAMES.phishing, QTYPE.A, [{ type: 'A', ip: HOSTS.phishingSite }]);
  tls(tph + 0.02, HOSTS.phished, HOSTS.phishingSite, VLANS.users, NAMES.phishing, 48_000, 0.07);
  // SSH password guessing against the bastion from the internet; Suricata saw it too.
  const eve: string[] = [];
  for (let k = 0; k < 60; k++) {
    const t = at(TIMELINE.bruteForce) + k * 4 + r();
    session({
      t,
      client: HOSTS.attacker,
      server: HOSTS.bastion,
      sport: 22,
      vlan: VLANS.dmz,
      rtt: 0.14,
      exchanges: [
        { request: sshBanner('libssh_0.9.6'), response: sshBanner('OpenSSH_8.9p1 Ubuntu-3ubuntu0.6') },
        { request: 1400, response: 1100 },
        { request: 300, response: 80 },
      ],
    });
    if (k % 20 === 5)
      eve.push(
        eveAlert(
          t,
          k,
          2006546,
          'ET SCAN LibSSH Based Frequent SSH Connections Likely BruteForce Attack',
          'Attempted Administrator Privilege Gain',
          1,
        ),
      );
    if (k === 30)
      eve.push(
        eveAlert(
          t,
          k,
          2500022,
          'ET COMPROMISED Known Compromised or Hostile Host Traffic group 12',
          'Misc Attack',
          2,
        ),
      );
  }
  // DNS tunnelling: encoded data in the names of TXT queries under one domain.
  for (let k = 0; k < 400; k++) {
    const t = at(TIMELINE.tunnel) + k * 1.5 + r() * 0.5;
    const chunk = Array.from({ length: 24 }, () => ri(0, 255).toString(16).padStart(2, '0')).join('');
    const name = `${chunk}.${k.toString(36)}.t.${NAMES.tunnelDomain}`;
    dns(t, HOSTS.tunnelling, VLANS.users, name, QTYPE.TXT, [{ type: 'TXT', text: `ok${ri(0, 1e6)}` }]);
  }
  // After the policy is approved: a web server connects straight to the database.
  for (let k = 0; k < 3; k++) {
    session({
      t: at(TIMELINE.violation) + k * 90,
      client: HOSTS.web[0]!,
      server: HOSTS.db,
      sport: 5432,
      vlan: VLANS.dmz,
      rtt: 0.0004,
      exchanges: [
        { request: 400, response: 9000 },
        { request: 120, response: 30_000 },
      ],
    });
  }

  mkdirSync(dir, { recursive: true });
  const files: [string, string] = [join(dir, 'demo-1.pcap'), join(dir, 'demo-2.pcap')];
  let packets = 0;
  parts.forEach((pkts, i) => {
    pkts.sort((a, b) => a.tsSec - b.tsSec || a.tsNs - b.tsNs);
    packets += pkts.length;
    writeFileSync(files[i]!, pcapFile(pkts, { ns: true }));
  });
  const intelFeed = join(dir, 'demo-intel.csv');
  writeFileSync(
    intelFeed,
    [
      'value,type,confidence,severity,description',
      `${HOSTS.c2},ip,90,80,Demo feed: command-and-control server`,
      `${NAMES.phishing},domain,85,70,Demo feed: credential phishing site`,
      '',
    ].join('\n'),
  );
  return {
    start: start * 1000,
    end: end * 1000,
    learnUntil: at(TIMELINE.learnUntil) * 1000,
    approveAt: approve * 1000,
    parts: files,
    eve: `${eve.join('\n')}\n`,
    intelFeed,
    packets,
  };
}

function eveAlert(
  t: number,
  k: number,
  sid: number,
  signature: string,
  category: string,
  severity: number,
): string {
  return JSON.stringify({
    timestamp: new Date(t * 1000).toISOString().replace('Z', '+0000'),
    flow_id: 1_000_000 + k,
    in_iface: 'eth1',
    event_type: 'alert',
    src_ip: HOSTS.attacker,
    src_port: 40_000 + k,
    dest_ip: HOSTS.bastion,
    dest_port: 22,
    proto: 'TCP',
    app_proto: 'ssh',
    alert: { action: 'allowed', gid: 1, signature_id: sid, rev: 3, signature, category, severity },
  });
}

/**
 * A branch flow as the IPFIX encoder reads it. The encoder takes Vantage's own flow records;
 * a router knows none of the TCP performance fields, which go out as "not measured".
 */
function exportRecord(
  id: number,
  client: string,
  server: string,
  cport: number,
  t0: number,
  dur: number,
  cp: number,
  sp: number,
): FlowRecord {
  const iso = (s: number): string => new Date(s * 1000).toISOString();
  const rec = {
    flow_id: id,
    first_ts: iso(t0),
    last_ts: iso(t0 + dur),
    client_ip: client,
    server_ip: server,
    client_port: cport,
    server_port: 443,
    proto: 6,
    client_tcp_flags: 'SAPF',
    server_tcp_flags: 'SAPF',
    client_packets: cp,
    server_packets: sp,
    client_ip_bytes: cp * 180,
    server_ip_bytes: sp * 1200,
    client_wire_bytes: cp * 194,
    server_wire_bytes: sp * 1214,
    client_payload_bytes: cp * 128,
    server_payload_bytes: sp * 1148,
    vlan: null,
    end_reason: 'fin',
    resets: 0,
    rtt_client_ms: null,
    rtt_server_ms: null,
    srt_ms: null,
    client_retransmissions: null,
    server_retransmissions: null,
    client_out_of_order: null,
    server_out_of_order: null,
    client_zero_windows: null,
    server_zero_windows: null,
    client_ipd_mean_ms: null,
    server_ipd_mean_ms: null,
    client_jitter_ms: null,
    server_jitter_ms: null,
    icmp_type: null,
    icmp_code: null,
  };
  return rec as unknown as FlowRecord;
}
