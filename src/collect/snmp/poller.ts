import snmp from 'net-snmp';
import type { Logger } from '../../common/log.js';

/** How to reach one device over SNMP. */
export interface SnmpTarget {
  host: string;
  port: number;
  version: '2c' | '3';
  community?: string;
  user?: {
    name: string;
    auth?: { protocol: 'md5' | 'sha' | 'sha256' | 'sha512'; key: string };
    priv?: { protocol: 'des' | 'aes' | 'aes256b' | 'aes256r'; key: string };
  };
  timeoutMs: number;
}

/** One interface as IF-MIB describes it, with its 64-bit octet counters at poll time. */
export interface SnmpInterface {
  ifIndex: number;
  name: string | null;
  alias: string | null;
  descr: string | null;
  /** bit/s: ifHighSpeed × 10^6 when the device gives it, else ifSpeed. */
  speed: number | null;
  inOctets: number | null;
  outOctets: number | null;
}

const IF_DESCR = '1.3.6.1.2.1.2.2.1.2';
const IF_SPEED = '1.3.6.1.2.1.2.2.1.5';
const IF_NAME = '1.3.6.1.2.1.31.1.1.1.1';
const IF_HC_IN = '1.3.6.1.2.1.31.1.1.1.6';
const IF_HC_OUT = '1.3.6.1.2.1.31.1.1.1.10';
const IF_HIGH_SPEED = '1.3.6.1.2.1.31.1.1.1.15';
const IF_ALIAS = '1.3.6.1.2.1.31.1.1.1.18';
/** A device with more interfaces than this is cut off (counted): the poll's memory is bounded. */
export const MAX_INTERFACES = 10_000;

function session(t: SnmpTarget) {
  const opts = { port: t.port, timeout: t.timeoutMs, retries: 1 };
  if (t.version === '2c')
    return snmp.createSession(t.host, t.community ?? 'public', { ...opts, version: snmp.Version2c });
  const u = t.user!;
  const level = u.priv
    ? snmp.SecurityLevel.authPriv
    : u.auth
      ? snmp.SecurityLevel.authNoPriv
      : snmp.SecurityLevel.noAuthNoPriv;
  return snmp.createV3Session(
    t.host,
    {
      name: u.name,
      level,
      ...(u.auth ? { authProtocol: snmp.AuthProtocols[u.auth.protocol], authKey: u.auth.key } : {}),
      ...(u.priv ? { privProtocol: snmp.PrivProtocols[u.priv.protocol], privKey: u.priv.key } : {}),
    },
    opts,
  );
}

/** Walk one column of IF-MIB; values by ifIndex. */
function column(s: ReturnType<typeof session>, oid: string): Promise<Map<number, unknown>> {
  return new Promise((resolve, reject) => {
    const out = new Map<number, unknown>();
    s.subtree(
      oid,
      50,
      (vbs) => {
        for (const vb of vbs) {
          if (snmp.isVarbindError(vb)) continue;
          const idx = Number(vb.oid.slice(oid.length + 1));
          if (Number.isInteger(idx) && out.size < MAX_INTERFACES) out.set(idx, vb.value);
        }
        return undefined;
      },
      (e) => (e ? reject(e) : resolve(out)),
    );
  });
}

const text = (v: unknown): string | null =>
  Buffer.isBuffer(v)
    ? v.toString('utf8').replace(/\0+$/, '') || null
    : typeof v === 'string'
      ? v || null
      : null;

// Counter64 arrives as a big-endian Buffer of up to 8 bytes.
const counter = (v: unknown): number | null => {
  if (typeof v === 'number') return v;
  if (Buffer.isBuffer(v)) {
    let n = 0;
    for (const b of v) n = n * 256 + b;
    return n;
  }
  return null;
};

/** The device's interface table (IF-MIB ifTable + ifXTable). */
export async function pollInterfaces(t: SnmpTarget, log?: Logger): Promise<SnmpInterface[]> {
  const s = session(t);
  s.on('error', (e) => log?.warn(`snmp ${t.host}: ${e.message}`));
  try {
    const [descr, speed, name, hin, hout, high, alias] = [
      await column(s, IF_DESCR),
      await column(s, IF_SPEED),
      await column(s, IF_NAME),
      await column(s, IF_HC_IN),
      await column(s, IF_HC_OUT),
      await column(s, IF_HIGH_SPEED),
      await column(s, IF_ALIAS),
    ];
    const idx = new Set<number>([...descr.keys(), ...name.keys()]);
    return [...idx]
      .sort((a, b) => a - b)
      .map((i) => {
        const hs = high.get(i);
        const sp = speed.get(i);
        return {
          ifIndex: i,
          name: text(name.get(i)),
          alias: text(alias.get(i)),
          descr: text(descr.get(i)),
          speed: typeof hs === 'number' && hs > 0 ? hs * 1e6 : typeof sp === 'number' ? sp : null,
          inOctets: counter(hin.get(i)),
          outOctets: counter(hout.get(i)),
        };
      });
  } finally {
    s.close();
  }
}
