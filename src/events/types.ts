import type { AlertCategory, AlertSource } from '../schema/alert.js';

/**
 * A third-party security event, normalized: what every parser (EVE, CEF, LEEF, Firepower,
 * webhook JSON) returns and what becomes one `alert` through the emitter.
 */
export interface SecurityEvent {
  kind: 'event';
  source: Exclude<AlertSource, 'vantage'>;
  /** Event time, ms since the epoch (the tool's time; the receive time when it has none). */
  ts: number;
  /** The rule engine that decided, e.g. suricata, "Security/threatmanager". */
  detector: string;
  title: string;
  /** 0–100. */
  severity: number;
  category: AlertCategory;
  signature_id: number | null;
  /** What names the rule in the tool (sid, gid:sid:rev, CEF signature id): folds repeats. */
  signature: string;
  src_ip: string | null;
  src_port: number | null;
  dst_ip: string | null;
  dst_port: number | null;
  proto: number | null;
  community_id: string | null;
  vlan: number | null;
  src_user: string | null;
  /** MITRE ATT&CK technique the tool's rule names, when it does (ET rules' metadata). */
  attack_technique?: string | null;
  /** The original event's useful fields (bounded). */
  evidence: Record<string, unknown>;
}

/** Input a parser refused: counted under a stable snake_case name, never thrown. */
export interface Weird {
  kind: 'weird';
  name: string;
}

/** Well-formed input that is not an alert (Suricata flow/dns/stats...): counted by name. */
export interface Other {
  kind: 'other';
  name: string;
}

/** An IP-to-user observation (RADIUS accounting, Windows logon, VPN log). */
export interface IdentityEvent {
  kind: 'identity';
  ts: number;
  ip: string | null;
  user: string;
  domain: string | null;
  mac: string | null;
  source: IdentitySource;
  event: 'start' | 'stop' | 'update';
  /** Session that a later stop without an address refers to (Acct-Session-Id, logon id). */
  session: string | null;
}

export const IDENTITY_SOURCES = ['radius', 'windows', 'vpn', 'webhook'] as const;
export type IdentitySource = (typeof IDENTITY_SOURCES)[number];

export type Parsed = SecurityEvent | IdentityEvent | Weird | Other;

export const weird = (name: string): Weird => ({ kind: 'weird', name });
export const other = (name: string): Other => ({ kind: 'other', name });

/** Counters of one source (or one ingest call): what came in and what it became. */
export interface EventCounters {
  received: number;
  bytes: number;
  alerts: number;
  identities: number;
  other: number;
  /** Cut (too long) or refused (over a bound) before parsing. */
  dropped: number;
  weird: Record<string, number>;
}

export const newCounters = (): EventCounters => ({
  received: 0,
  bytes: 0,
  alerts: 0,
  identities: 0,
  other: 0,
  dropped: 0,
  weird: {},
});

export function countWeird(c: EventCounters, name: string, n = 1): void {
  c.weird[name] = (c.weird[name] ?? 0) + n;
}
