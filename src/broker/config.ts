import { ConfigError } from '../common/errors.js';
import { compileFilter } from '../pcapstore/bpf/compile.js';
import { parseCidr } from './rules.js';
import type { BrokerConfig, DeliveryConfig, MatchRules, TargetConfig } from './types.js';

/**
 * Validate a broker section of the config file (or an API body). Every error names the exact
 * key, e.g. `broker.targets[1].deliver.vni`.
 *
 *   { "decapsulate": true,
 *     "targets": [
 *       { "name": "ids", "filter": "tcp port 80", "snaplen": 256, "dedupWindowMs": 50,
 *         "deliver": { "type": "vxlan", "host": "10.0.0.5", "port": 4789, "vni": 100 } },
 *       { "name": "ndr", "rules": { "vni": [7], "cidr": ["10.1.0.0/16"] },
 *         "deliver": { "type": "pcap-tcp", "host": "10.0.0.6", "port": 57012 } } ] }
 */
export function parseBrokerConfig(v: unknown, key = 'broker'): BrokerConfig {
  const o = obj(v, key);
  known(o, key, ['decapsulate', 'targets']);
  const decapsulate = o.decapsulate === undefined ? true : bool(o.decapsulate, `${key}.decapsulate`);
  if (!Array.isArray(o.targets)) throw new ConfigError(`${key}.targets`, 'expected a list of targets');
  const names = new Set<string>();
  const targets = o.targets.map((t, i) => {
    const tc = parseTargetConfig(t, `${key}.targets[${i}]`);
    if (names.has(tc.name)) throw new ConfigError(`${key}.targets[${i}].name`, `duplicate name '${tc.name}'`);
    names.add(tc.name);
    return tc;
  });
  return { decapsulate, targets };
}

export function parseTargetConfig(v: unknown, key: string): TargetConfig {
  const o = obj(v, key);
  known(o, key, ['name', 'filter', 'rules', 'snaplen', 'dedupWindowMs', 'queue', 'deliver']);
  if (typeof o.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(o.name))
    throw new ConfigError(`${key}.name`, 'expected a name of 1-64 letters, digits, _ . -');
  const t: TargetConfig = { name: o.name };
  if (o.filter !== undefined) {
    if (typeof o.filter !== 'string')
      throw new ConfigError(`${key}.filter`, 'expected a tcpdump filter string');
    try {
      compileFilter(o.filter);
    } catch (e) {
      throw new ConfigError(`${key}.filter`, (e as Error).message);
    }
    t.filter = o.filter;
  }
  if (o.rules !== undefined) t.rules = parseRules(o.rules, `${key}.rules`);
  if (o.snaplen !== undefined) t.snaplen = int(o.snaplen, `${key}.snaplen`, 0, 262_144);
  if (o.dedupWindowMs !== undefined)
    t.dedupWindowMs = num(o.dedupWindowMs, `${key}.dedupWindowMs`, 0, 60_000);
  if (o.queue !== undefined) t.queue = int(o.queue, `${key}.queue`, 1, 1 << 20);
  if (o.deliver !== undefined) t.deliver = parseDelivery(o.deliver, `${key}.deliver`);
  return t;
}

function parseRules(v: unknown, key: string): MatchRules {
  const o = obj(v, key);
  known(o, key, ['vni', 'vlan', 'cidr', 'port', 'proto']);
  const r: MatchRules = {};
  const ints = (k: 'vni' | 'vlan' | 'port' | 'proto', max: number): void => {
    const x = o[k];
    if (x === undefined) return;
    if (!Array.isArray(x)) throw new ConfigError(`${key}.${k}`, 'expected a list of numbers');
    r[k] = x.map((n, i) => int(n, `${key}.${k}[${i}]`, 0, max));
  };
  ints('vni', 0xffffff);
  ints('vlan', 4095);
  ints('port', 65535);
  ints('proto', 255);
  if (o.cidr !== undefined) {
    if (!Array.isArray(o.cidr)) throw new ConfigError(`${key}.cidr`, 'expected a list of networks');
    r.cidr = o.cidr.map((c, i) => {
      if (typeof c !== 'string')
        throw new ConfigError(`${key}.cidr[${i}]`, 'expected a network like 10.0.0.0/8');
      try {
        parseCidr(c);
      } catch (e) {
        throw new ConfigError(`${key}.cidr[${i}]`, (e as Error).message);
      }
      return c;
    });
  }
  return r;
}

function parseDelivery(v: unknown, key: string): DeliveryConfig {
  const o = obj(v, key);
  const host = (): string => {
    if (typeof o.host !== 'string' || o.host === '')
      throw new ConfigError(`${key}.host`, 'expected a host address');
    return o.host;
  };
  switch (o.type) {
    case 'vxlan':
      known(o, key, ['type', 'host', 'port', 'vni']);
      return {
        type: 'vxlan',
        host: host(),
        port: o.port === undefined ? 4789 : int(o.port, `${key}.port`, 1, 65535),
        vni: o.vni === undefined ? 0 : int(o.vni, `${key}.vni`, 0, 0xffffff),
      };
    case 'gre': {
      known(o, key, ['type', 'host', 'key']);
      const d: DeliveryConfig = { type: 'gre', host: host() };
      if (o.key !== undefined) d.key = int(o.key, `${key}.key`, 0, 0xffffffff);
      return d;
    }
    case 'erspan':
      known(o, key, ['type', 'host', 'session']);
      return { type: 'erspan', host: host(), session: int(o.session ?? 1, `${key}.session`, 0, 1023) };
    case 'pcap-tcp':
      known(o, key, ['type', 'host', 'port']);
      return { type: 'pcap-tcp', host: host(), port: int(o.port, `${key}.port`, 1, 65535) };
    case 'interface':
      known(o, key, ['type', 'iface']);
      if (typeof o.iface !== 'string' || o.iface === '')
        throw new ConfigError(`${key}.iface`, 'expected an interface name');
      return { type: 'interface', iface: o.iface };
    default:
      throw new ConfigError(`${key}.type`, 'expected one of vxlan, gre, erspan, pcap-tcp, interface');
  }
}

function obj(v: unknown, key: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(key, 'expected an object');
  return v as Record<string, unknown>;
}

function known(o: Record<string, unknown>, key: string, keys: string[]): void {
  for (const k of Object.keys(o))
    if (!keys.includes(k)) throw new ConfigError(`${key}.${k}`, `unknown key (known: ${keys.join(', ')})`);
}

function bool(v: unknown, key: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(key, 'expected true or false');
  return v;
}

function num(v: unknown, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new ConfigError(key, `expected a number from ${min} to ${max}`);
  return v;
}

function int(v: unknown, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ConfigError(key, `expected an integer from ${min} to ${max}`);
  return v;
}
