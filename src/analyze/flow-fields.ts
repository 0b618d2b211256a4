/**
 * Shared by the L7 analyzers (TLS, QUIC, HTTP, SSH, SMB): the flow identity every L7 record
 * carries, and the `weird` record an analyzer emits for malformed application data.
 */

import { isoNs } from '../common/time.js';
import type { Packet } from '../decode/packet.js';
import type { FlowContext, RecordSink } from './types.js';

export function flowFields(ctx: FlowContext) {
  return {
    flow_id: ctx.flow_id,
    community_id: ctx.community_id,
    proto: ctx.proto,
    client_ip: ctx.client_ip,
    client_port: ctx.client_port,
    server_ip: ctx.server_ip,
    server_port: ctx.server_port,
    vlan: ctx.vlan,
    vni: ctx.vni,
  };
}

/**
 * `flowFields` written into a record being filled (a fresh one, in the order the fields are
 * declared, or an analyzer's one reused record in column mode): no object in between.
 */
export function setFlowFields(out: Record<string, unknown>, ctx: FlowContext): void {
  out.flow_id = ctx.flow_id;
  out.community_id = ctx.community_id;
  out.proto = ctx.proto;
  out.client_ip = ctx.client_ip;
  out.client_port = ctx.client_port;
  out.server_ip = ctx.server_ip;
  out.server_port = ctx.server_port;
  out.vlan = ctx.vlan;
  out.vni = ctx.vni;
}

/** A malformed-application-data record with a stable snake_case name (same shape as decoder weirds). */
export function emitL7Weird(
  sink: RecordSink,
  name: string,
  p: Packet,
  ctx: FlowContext,
  dir: number,
  detail: string | null,
): void {
  sink({
    type: 'weird',
    name,
    ts: isoNs(p.tsSec, p.tsNs),
    offset: null,
    src_ip: dir === 0 ? ctx.client_ip : ctx.server_ip,
    dst_ip: dir === 0 ? ctx.server_ip : ctx.client_ip,
    proto: ctx.proto,
    src_port: dir === 0 ? ctx.client_port : ctx.server_port,
    dst_port: dir === 0 ? ctx.server_port : ctx.client_port,
    community_id: ctx.community_id,
    frame_len: p.wirelen,
    detail,
  });
}

/** True for a flow-end call on an interim record: the flow goes on, keep its state. */
export function isInterim(rec: { [k: string]: unknown }): boolean {
  return rec['interim'] === true;
}
