import { ConfigError } from '../common/errors.js';
import { createBgpAdapter } from './actions/bgp.js';
import { createBrokerAdapter } from './actions/broker.js';
import { createNftablesAdapter } from './actions/nftables.js';
import { createEmailNotifier, createHookNotifier } from './actions/notify.js';
import { createRestAdapter, type RestCallConfig } from './actions/rest.js';
import { createServiceNowAdapter } from './actions/servicenow.js';
import { type ActionAdapter, ADAPTER_KINDS, type AdapterKind, FAMILY_OF } from './actions/types.js';
import type { AdapterCatalog } from './playbook.js';

/** A person who may be asked to approve: links go to their address. */
export interface Approver {
  name: string;
  role: 'analyst' | 'admin';
  email?: string;
}

export interface ResponderConfig {
  /** Base URL of this server as approvers reach it (signed links point here). */
  publicUrl: string;
  adapters: ActionAdapter[];
  approvers: Approver[];
  /** Playbook files loaded at start (the repository in DIR/respond keeps API-made ones). */
  playbooks: string[];
  /** Runs executing at once; more wait their turn. */
  maxConcurrent: number;
  /** First retry delay, doubled per attempt. */
  backoffMs: number;
}

type Obj = Record<string, unknown>;

function str(o: Obj, k: string, at: string, def?: string): string {
  const v = o[k];
  if (v === undefined && def !== undefined) return def;
  if (typeof v !== 'string' || v === '')
    throw new ConfigError(`${at}.${k}`, 'a non-empty string is required');
  return v;
}
function num(o: Obj, k: string, at: string, def: number): number {
  const v = o[k];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new ConfigError(`${at}.${k}`, 'a non-negative integer');
  return v;
}
function opt(o: Obj, k: string, at: string): string | undefined {
  return o[k] === undefined ? undefined : str(o, k, at);
}
function known(o: Obj, keys: string[], at: string): void {
  for (const k of Object.keys(o))
    if (!keys.includes(k)) throw new ConfigError(`${at}.${k}`, `unknown key; accepted: ${keys.join(', ')}`);
}
function strings(o: Obj, k: string, at: string, def: string[]): string[] {
  const v = o[k];
  if (v === undefined) return def;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new ConfigError(`${at}.${k}`, 'a list of strings');
  return v as string[];
}
function restCall(v: unknown, at: string): RestCallConfig {
  if (!v || typeof v !== 'object') throw new ConfigError(at, 'a mapping {method, url, headers, body}');
  const o = v as Obj;
  known(o, ['method', 'url', 'headers', 'body'], at);
  return {
    method: str(o, 'method', at, 'POST'),
    url: str(o, 'url', at),
    headers: (o.headers as Record<string, string> | undefined) ?? {},
    ...(o.body !== undefined && { body: o.body }),
  };
}

/** Build one adapter from its config entry `{name, kind, ...}`; errors name the key. */
export function parseAdapter(v: unknown, at: string): ActionAdapter {
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new ConfigError(at, 'a mapping {name, kind, ...}');
  const o = v as Obj;
  const name = str(o, 'name', at);
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(name)) throw new ConfigError(`${at}.name`, 'use a-z, 0-9, _ and -');
  const kind = o.kind as AdapterKind;
  if (!ADAPTER_KINDS.includes(kind))
    throw new ConfigError(`${at}.kind`, `one of ${ADAPTER_KINDS.join(', ')}`);
  const timeoutMs = num(o, 'timeoutMs', at, 10_000);
  const ca = opt(o, 'ca', at);
  switch (kind) {
    case 'nftables': {
      known(o, ['name', 'kind', 'exec', 'ssh', 'table', 'timeoutMs'], at);
      let ssh: { host: string; user: string; port: number; identity?: string } | undefined;
      if (o.ssh !== undefined) {
        const s = o.ssh as Obj;
        known(s, ['host', 'user', 'port', 'identity'], `${at}.ssh`);
        const identity = opt(s, 'identity', `${at}.ssh`);
        ssh = {
          host: str(s, 'host', `${at}.ssh`),
          user: str(s, 'user', `${at}.ssh`, 'root'),
          port: num(s, 'port', `${at}.ssh`, 22),
          ...(identity && { identity }),
        };
      }
      const table = str(o, 'table', at, 'vantage_respond');
      if (!/^[a-z_][a-z0-9_]{0,31}$/.test(table)) throw new ConfigError(`${at}.table`, 'a-z, 0-9 and _');
      return createNftablesAdapter(name, {
        exec: strings(o, 'exec', at, ['nft']),
        ...(ssh && { ssh }),
        table,
        timeoutMs,
      });
    }
    case 'broker':
      known(o, ['name', 'kind'], at);
      return createBrokerAdapter(name);
    case 'rest':
    case 'ticket-webhook': {
      known(o, ['name', 'kind', 'apply', 'undo', 'secret', 'ca', 'timeoutMs'], at);
      const secret = opt(o, 'secret', at);
      return createRestAdapter(name, kind, {
        apply: restCall(o.apply, `${at}.apply`),
        ...(o.undo !== undefined && { undo: restCall(o.undo, `${at}.undo`) }),
        ...(secret && { secret }),
        ...(ca && { ca }),
        timeoutMs,
      });
    }
    case 'bgp': {
      known(o, ['name', 'kind', 'dir', 'mode', 'nextHop', 'community'], at);
      const mode = str(o, 'mode', at, 'blackhole');
      if (mode !== 'blackhole' && mode !== 'flowspec')
        throw new ConfigError(`${at}.mode`, 'blackhole or flowspec');
      return createBgpAdapter(name, {
        dir: str(o, 'dir', at),
        mode,
        nextHop: str(o, 'nextHop', at, '192.0.2.1'),
        community: str(o, 'community', at, '65535:666'),
      });
    }
    case 'servicenow': {
      known(o, ['name', 'kind', 'instance', 'user', 'password', 'token', 'table', 'ca', 'timeoutMs'], at);
      const user = opt(o, 'user', at);
      const password = opt(o, 'password', at);
      const token = opt(o, 'token', at);
      return createServiceNowAdapter(name, {
        instance: str(o, 'instance', at),
        table: str(o, 'table', at, 'incident'),
        ...(user && { user }),
        ...(password && { password }),
        ...(token && { token }),
        ...(ca && { ca }),
        timeoutMs,
      });
    }
    case 'email': {
      known(
        o,
        ['name', 'kind', 'host', 'port', 'secure', 'starttls', 'from', 'to', 'user', 'pass', 'ca'],
        at,
      );
      const user = opt(o, 'user', at);
      const pass = opt(o, 'pass', at);
      return createEmailNotifier(name, {
        host: str(o, 'host', at),
        port: num(o, 'port', at, 25),
        secure: o.secure === true,
        starttls: o.starttls === true,
        from: str(o, 'from', at),
        to: strings(o, 'to', at, []),
        ...(user && { user }),
        ...(pass && { pass }),
        ...(ca && { ca }),
      });
    }
    default: {
      known(o, ['name', 'kind', 'url', 'secret', 'ca', 'timeoutMs'], at);
      const secret = opt(o, 'secret', at);
      return createHookNotifier(name, kind, {
        url: str(o, 'url', at),
        ...(secret && { secret }),
        ...(ca && { ca }),
        timeoutMs,
      });
    }
  }
}

/** The `respond` key of the config file. */
export function parseResponderConfig(v: unknown, at = 'respond'): ResponderConfig {
  const o = (v ?? {}) as Obj;
  if (typeof o !== 'object' || Array.isArray(o)) throw new ConfigError(at, 'a mapping');
  known(o, ['publicUrl', 'adapters', 'approvers', 'playbooks', 'maxConcurrent', 'backoffMs'], at);
  const adapters = ((o.adapters as unknown[] | undefined) ?? []).map((a, i) =>
    parseAdapter(a, `${at}.adapters[${i}]`),
  );
  const names = new Set<string>();
  adapters.forEach((a, i) => {
    if (names.has(a.name)) throw new ConfigError(`${at}.adapters[${i}].name`, `'${a.name}' is used twice`);
    names.add(a.name);
  });
  const approvers = ((o.approvers as unknown[] | undefined) ?? []).map((x, i) => {
    const p = x as Obj;
    const a = `${at}.approvers[${i}]`;
    known(p, ['name', 'role', 'email'], a);
    const role = str(p, 'role', a);
    if (role !== 'analyst' && role !== 'admin') throw new ConfigError(`${a}.role`, 'analyst or admin');
    const email = opt(p, 'email', a);
    return { name: str(p, 'name', a), role, ...(email && { email }) } as Approver;
  });
  return {
    publicUrl: str(o, 'publicUrl', at, 'http://127.0.0.1:8080'),
    adapters,
    approvers,
    playbooks: strings(o, 'playbooks', at, []),
    maxConcurrent: num(o, 'maxConcurrent', at, 8),
    backoffMs: num(o, 'backoffMs', at, 1000),
  };
}

export function catalogOf(adapters: readonly ActionAdapter[]): AdapterCatalog {
  return new Map(adapters.map((a) => [a.name, FAMILY_OF[a.kind]]));
}
