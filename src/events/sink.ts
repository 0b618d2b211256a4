import type { AlertEmitter } from '../common/alerts.js';
import { isoMs } from '../common/alerts.js';
import type { IdentityRecord } from '../schema/identity.js';
import type { IdentityMap } from './identity.js';
import {
  countWeird,
  type EventCounters,
  type IdentityEvent,
  type Parsed,
  type SecurityEvent,
} from './types.js';

/** What every source hands its parsed events to. */
export interface EventDeps {
  emitter: AlertEmitter;
  /** Updated with every identity event; also names src_user on alerts that lack it. */
  identity?: IdentityMap;
  /** Identity records for the store (`identity` record type). */
  onIdentity?: (rec: IdentityRecord) => void;
}

/** Confidence given to a third-party detection: the tool decided, we only relay it. */
export const THIRD_PARTY_CONFIDENCE = 75;

/** Raise one alert for a third-party event; repeats of a signature between two hosts fold. */
export function raiseEvent(ev: SecurityEvent, deps: EventDeps): void {
  let user = ev.src_user;
  if (user === null && deps.identity && ev.src_ip !== null) user = deps.identity.who(ev.src_ip, ev.ts);
  deps.emitter.raise({
    ts: ev.ts,
    category: ev.category,
    detector: ev.detector,
    title: ev.title,
    severity: ev.severity,
    confidence: THIRD_PARTY_CONFIDENCE,
    key: `${ev.signature}|${ev.src_ip ?? ''}|${ev.dst_ip ?? ''}`,
    src_ip: ev.src_ip,
    src_port: ev.src_port,
    dst_ip: ev.dst_ip,
    dst_port: ev.dst_port,
    proto: ev.proto,
    community_id: ev.community_id,
    vlan: ev.vlan,
    evidence: ev.evidence,
    signature_id: ev.signature_id,
    source: ev.source,
    src_user: user,
    attack_technique: ev.attack_technique ?? null,
  });
}

export function identityRecordOf(e: IdentityEvent): IdentityRecord {
  return {
    type: 'identity',
    ts: isoMs(e.ts),
    ip: e.ip,
    user: e.user,
    domain: e.domain,
    mac: e.mac,
    source: e.source,
    event: e.event,
    session: e.session,
  };
}

/** Count one parse result and act on it (alert, identity, or nothing). */
export function deliver(p: Parsed, c: EventCounters, deps: EventDeps): void {
  switch (p.kind) {
    case 'event':
      c.alerts++;
      raiseEvent(p, deps);
      return;
    case 'identity':
      c.identities++;
      deps.identity?.observe(p);
      deps.onIdentity?.(identityRecordOf(p));
      return;
    case 'other':
      c.other++;
      return;
    case 'weird':
      countWeird(c, p.name);
      return;
  }
}
