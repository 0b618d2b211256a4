import { isIP } from 'node:net';
import {
  type ConfigObj,
  checkKeys,
  configDuration,
  configString,
  isConfigObj,
} from '../../common/config-read.js';
import { ConfigError } from '../../common/errors.js';
import type { SnmpConfig } from './interfaces.js';
import type { SnmpTarget } from './poller.js';

type Obj = ConfigObj;
const isObj = isConfigObj;
const keys = checkKeys;
const str = configString;
const duration = configDuration;

const AUTH = ['md5', 'sha', 'sha256', 'sha512'] as const;
const PRIV = ['des', 'aes', 'aes256b', 'aes256r'] as const;

/** How to reach devices: everything of a target but its host. */
function access(o: Obj, key: string, timeoutMs: number): Omit<SnmpTarget, 'host'> {
  const version = o.version === undefined ? '2c' : o.version;
  if (version !== '2c' && version !== '3') throw new ConfigError(`${key}.version`, 'expected "2c" or "3"');
  let port = 161;
  if (o.port !== undefined) {
    if (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < 1 || o.port > 65535)
      throw new ConfigError(`${key}.port`, 'expected a port number');
    port = o.port;
  }
  const t: Omit<SnmpTarget, 'host'> = { port, version, timeoutMs };
  if (version === '2c') {
    if (o.user !== undefined)
      throw new ConfigError(`${key}.user`, 'a user is for version "3"; give community for 2c');
    t.community = o.community === undefined ? 'public' : str(o.community, `${key}.community`);
    return t;
  }
  if (o.community !== undefined)
    throw new ConfigError(`${key}.community`, 'version "3" takes a user, not a community');
  const u = o.user;
  const k = `${key}.user`;
  if (!isObj(u))
    throw new ConfigError(k, 'expected {"name", "authProtocol"?, "authKey"?, "privProtocol"?, "privKey"?}');
  keys(u, k, ['name', 'authProtocol', 'authKey', 'privProtocol', 'privKey']);
  const user: NonNullable<SnmpTarget['user']> = { name: str(u.name, `${k}.name`) };
  if (u.authKey !== undefined) {
    const p = u.authProtocol ?? 'sha';
    if (!AUTH.includes(p as (typeof AUTH)[number]))
      throw new ConfigError(`${k}.authProtocol`, `expected one of ${AUTH.join(', ')}`);
    const key8 = str(u.authKey, `${k}.authKey`);
    if (key8.length < 8) throw new ConfigError(`${k}.authKey`, 'at least 8 characters (RFC 3414)');
    user.auth = { protocol: p as (typeof AUTH)[number], key: key8 };
  } else if (u.authProtocol !== undefined)
    throw new ConfigError(`${k}.authKey`, 'authProtocol needs authKey');
  if (u.privKey !== undefined) {
    if (!user.auth) throw new ConfigError(`${k}.privKey`, 'privacy needs authentication (authKey)');
    const p = u.privProtocol ?? 'aes';
    if (!PRIV.includes(p as (typeof PRIV)[number]))
      throw new ConfigError(`${k}.privProtocol`, `expected one of ${PRIV.join(', ')}`);
    const key8 = str(u.privKey, `${k}.privKey`);
    if (key8.length < 8) throw new ConfigError(`${k}.privKey`, 'at least 8 characters (RFC 3414)');
    user.priv = { protocol: p as (typeof PRIV)[number], key: key8 };
  } else if (u.privProtocol !== undefined)
    throw new ConfigError(`${k}.privKey`, 'privProtocol needs privKey');
  t.user = user;
  return t;
}

/** The `snmp` key: devices to poll and how to poll the flow exporters. */
export function parseSnmpConfig(v: unknown, key = 'snmp'): SnmpConfig {
  if (!isObj(v)) throw new ConfigError(key, 'expected an object');
  keys(v, key, ['devices', 'exporters', 'interval', 'timeout']);
  const timeoutMs = duration(v.timeout, `${key}.timeout`, 5000, 100, 60_000);
  const c: SnmpConfig = {
    devices: [],
    intervalMs: duration(v.interval, `${key}.interval`, 300_000, 5_000, 86_400_000),
  };
  if (v.devices !== undefined) {
    if (!Array.isArray(v.devices)) throw new ConfigError(`${key}.devices`, 'expected a list');
    c.devices = v.devices.map((d, i) => {
      const k = `${key}.devices[${i}]`;
      if (!isObj(d)) throw new ConfigError(k, 'expected {"host", "version"?, "community"? | "user"?}');
      keys(d, k, ['host', 'port', 'version', 'community', 'user']);
      const host = str(d.host, `${k}.host`);
      if (isIP(host) === 0)
        throw new ConfigError(`${k}.host`, 'expected an IP address (the address flows are exported from)');
      return { host, ...access(d, k, timeoutMs) };
    });
  }
  if (v.exporters !== undefined) {
    const k = `${key}.exporters`;
    if (!isObj(v.exporters))
      throw new ConfigError(k, 'expected {"version"?, "community"? | "user"?, "port"?}');
    keys(v.exporters, k, ['port', 'version', 'community', 'user']);
    c.exporters = access(v.exporters, k, timeoutMs);
  }
  if (c.devices.length === 0 && !c.exporters)
    throw new ConfigError(key, 'give devices or exporters (or both)');
  return c;
}
