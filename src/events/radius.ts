import { createHash, timingSafeEqual } from 'node:crypto';
import type { Parsed } from './types.js';
import { weird } from './types.js';

/**
 * RADIUS accounting (RFC 2866): an Accounting-Request carries who got which address; its
 * Request Authenticator is MD5(Code+Identifier+Length+16 zero octets+Attributes+Secret), and
 * the Accounting-Response we send back is signed with MD5(Code+Identifier+Length+Request
 * Authenticator+Attributes+Secret). Packets whose authenticator is wrong are silently
 * discarded (counted), as the RFC says.
 */

export const ACCOUNTING_REQUEST = 4;
export const ACCOUNTING_RESPONSE = 5;

const STATUS: Record<number, 'start' | 'stop' | 'update'> = { 1: 'start', 2: 'stop', 3: 'update' };

export interface RadiusAccounting {
  identifier: number;
  authenticator: Buffer;
  userName: string | null;
  framedIp: string | null;
  status: 'start' | 'stop' | 'update' | null;
  callingStationId: string | null;
  sessionId: string | null;
  /** Event-Timestamp (attr 55), s since the epoch. */
  eventTimestamp: number | null;
}

/** Parse and verify one Accounting-Request; a weird when it is not one or does not verify. */
export function parseAccountingRequest(
  pkt: Uint8Array,
  secret: string | Buffer,
): RadiusAccounting | { kind: 'weird'; name: string } {
  if (pkt.length < 20) return weird('radius_short');
  const b = Buffer.from(pkt.buffer, pkt.byteOffset, pkt.byteLength);
  const len = b.readUInt16BE(2);
  if (len < 20 || len > 4096 || len > b.length) return weird('radius_bad_length');
  if (b[0] !== ACCOUNTING_REQUEST) return weird('radius_not_accounting_request');
  const auth = b.subarray(4, 20);
  const h = createHash('md5');
  h.update(b.subarray(0, 4));
  h.update(Buffer.alloc(16));
  h.update(b.subarray(20, len));
  h.update(secret);
  if (!timingSafeEqual(h.digest(), auth)) return weird('radius_bad_authenticator');
  const r: RadiusAccounting = {
    identifier: b[1]!,
    authenticator: Buffer.from(auth),
    userName: null,
    framedIp: null,
    status: null,
    callingStationId: null,
    sessionId: null,
    eventTimestamp: null,
  };
  let p = 20;
  while (p < len) {
    if (p + 2 > len) return weird('radius_bad_attribute');
    const t = b[p]!;
    const l = b[p + 1]!;
    if (l < 2 || p + l > len) return weird('radius_bad_attribute');
    const v = b.subarray(p + 2, p + l);
    if (t === 1) r.userName = v.toString('utf8');
    else if (t === 8 && v.length === 4) r.framedIp = `${v[0]}.${v[1]}.${v[2]}.${v[3]}`;
    else if (t === 40 && v.length === 4) r.status = STATUS[v.readUInt32BE(0)] ?? null;
    else if (t === 31) r.callingStationId = v.toString('utf8');
    else if (t === 44) r.sessionId = v.toString('utf8');
    else if (t === 55 && v.length === 4) r.eventTimestamp = v.readUInt32BE(0);
    p += l;
  }
  return r;
}

/** The Accounting-Response to a verified request (no attributes). */
export function accountingResponse(req: RadiusAccounting, secret: string | Buffer): Buffer {
  const out = Buffer.alloc(20);
  out[0] = ACCOUNTING_RESPONSE;
  out[1] = req.identifier;
  out.writeUInt16BE(20, 2);
  const h = createHash('md5');
  h.update(out.subarray(0, 4));
  h.update(req.authenticator);
  h.update(secret);
  h.digest().copy(out, 4);
  return out;
}

/** A MAC in Calling-Station-Id ("00-11-22-33-44-55", "0011.2233.4455"…) → "00:11:22:33:44:55". */
export function macOf(s: string | null): string | null {
  if (s === null) return null;
  const hex = s.replace(/[^0-9a-fA-F]/g, '');
  if (hex.length !== 12 || s.length > 17) return null;
  return hex.toLowerCase().replace(/(..)(?=.)/g, '$1:');
}

/** The identity observation of a verified accounting request (null when it names no user/address). */
export function identityOfAccounting(r: RadiusAccounting, nowMs: number): Parsed {
  if (r.userName === null || r.status === null) return { kind: 'other', name: 'radius_without_identity' };
  if (r.framedIp === null && r.sessionId === null) return { kind: 'other', name: 'radius_without_address' };
  return {
    kind: 'identity',
    ts: r.eventTimestamp !== null ? r.eventTimestamp * 1000 : nowMs,
    ip: r.framedIp,
    user: r.userName.slice(0, 128),
    domain: null,
    mac: macOf(r.callingStationId),
    source: 'radius',
    event: r.status,
    session: r.sessionId,
  };
}

/** Build an Accounting-Request (tests, benchmarks): attributes as [type, value]. */
export function buildAccountingRequest(
  identifier: number,
  attrs: [number, Buffer | string | number][],
  secret: string,
): Buffer {
  const parts: Buffer[] = [];
  for (const [t, v] of attrs) {
    let val: Buffer;
    if (typeof v === 'number') {
      val = Buffer.alloc(4);
      val.writeUInt32BE(v, 0);
    } else val = typeof v === 'string' ? Buffer.from(v) : v;
    parts.push(Buffer.from([t, val.length + 2]), val);
  }
  const body = Buffer.concat(parts);
  const pkt = Buffer.alloc(20 + body.length);
  pkt[0] = ACCOUNTING_REQUEST;
  pkt[1] = identifier;
  pkt.writeUInt16BE(pkt.length, 2);
  body.copy(pkt, 20);
  const h = createHash('md5').update(pkt).update(secret).digest(); // authenticator field is zero here
  h.copy(pkt, 4);
  return pkt;
}
