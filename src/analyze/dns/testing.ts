/** Builders of DNS messages for tests (wire format, hand-made). */

export const u16 = (v: number): number[] => [(v >> 8) & 255, v & 255];
export const u32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

/** "www.example.com" → length-prefixed labels ending with the root byte. */
export function qname(name: string): number[] {
  const out: number[] = [];
  if (name !== '') for (const l of name.split('.')) out.push(l.length, ...Buffer.from(l, 'latin1'));
  out.push(0);
  return out;
}

export interface Rr {
  name: number[];
  type: number;
  klass?: number;
  ttl?: number;
  rdata: number[];
}

export function rr(r: Rr): number[] {
  return [
    ...r.name,
    ...u16(r.type),
    ...u16(r.klass ?? 1),
    ...u32(r.ttl ?? 300),
    ...u16(r.rdata.length),
    ...r.rdata,
  ];
}

export interface Msg {
  id: number;
  flags: number;
  qd?: [string, number][];
  an?: number[][];
  ns?: number[][];
  ar?: number[][];
}

export function dnsMessage(m: Msg): number[] {
  const qd = m.qd ?? [];
  const an = m.an ?? [];
  const ns = m.ns ?? [];
  const ar = m.ar ?? [];
  const out = [
    ...u16(m.id),
    ...u16(m.flags),
    ...u16(qd.length),
    ...u16(an.length),
    ...u16(ns.length),
    ...u16(ar.length),
  ];
  for (const [n, t] of qd) out.push(...qname(n), ...u16(t), ...u16(1));
  for (const r of [...an, ...ns, ...ar]) out.push(...r);
  return out;
}

/** Pointer to the first question's name (offset 12 of the message). */
export const PTR_QNAME = [0xc0, 12];

/** EDNS OPT record with a client-subnet option for an IPv4 prefix. */
export function optEcs(
  udpSize: number,
  doBit: boolean,
  addr: number[],
  srcPrefix: number,
  scope = 0,
): number[] {
  const ecs = [...u16(1), srcPrefix, scope, ...addr];
  const opt = [...u16(8), ...u16(ecs.length), ...ecs];
  return [0, ...u16(41), ...u16(udpSize), 0, 0, doBit ? 0x80 : 0, 0, ...u16(opt.length), ...opt];
}
